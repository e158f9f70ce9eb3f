/**
 * Relais configuration: one YAML file plus RELAIS_* environment overrides (env wins). Every key,
 * its default and its variable are documented in config/relais.example.yaml. Loading validates
 * everything and throws ConfigError naming the key: a bad config fails at start, never later.
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  ConfigError,
  type HostPort,
  parseBoolean,
  parseCidr,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseInteger,
  parseIp,
  parseList,
  parseString,
} from './parse.js';
import { validateSeed } from '../tenants/validate.js';
import { resolvePolicyConfig } from '../../policies/service/config.js';
import { parseAlertsConfig } from '../stats/alerts-config.js';

export interface ListenerConfig {
  name: string;
  listen: HostPort;
  /** Offer STARTTLS (default true). */
  starttls: boolean;
  /** Implicit TLS (port 465 style). */
  implicit_tls: boolean;
  /** Offer AUTH PLAIN/LOGIN (default true). */
  auth: boolean;
  /** Refuse MAIL FROM without AUTH even from relay networks (default false). */
  require_auth: boolean;
  /**
   * Unknown clients (remote MTAs) may send, but only to VERP addresses of listmonk.bounce_domain:
   * the DSNs and complaints about newsletter mail. Anything else is 554 5.7.1 (no open relay).
   */
  inbound: boolean;
  /** Outbound identity (delivery.pools) of the mail received on this listener. */
  pool?: string;
}

export interface RelaisConfig {
  /** Path of the YAML file this came from (for SIGHUP reloads), if any. */
  file?: string;
  hostname: string;
  data_dir: string;
  log_level: string;
  public_ips: string[];
  smtp: {
    listeners: ListenerConfig[];
    max_message_size: number;
    max_recipients: number;
    relay_networks: string[];
    auth_requires_tls: boolean;
    /** Client networks allowed to AUTH without TLS (default loopback). */
    insecure_auth_networks: string[];
    tls: { cert?: string; key?: string };
    bare_newlines: 'normalize' | 'reject';
    banner: string;
    socket_timeout_ms: number;
    max_clients: number;
    greeting_delay_ms: number;
  };
  api: { listen: HostPort; admin_token?: string; rate_limit_per_minute: number };
  store: { redis_url?: string; prefix: string };
  dns: { servers: string[] };
  delivery: {
    smarthost?: HostPort;
    smarthost_user?: string;
    smarthost_password?: string;
    smarthost_tls: 'opportunistic' | 'starttls' | 'implicit' | 'none';
    allow_private_mx: boolean;
    mx_port: number;
    ehlo_name?: string;
    local_addresses: string[];
    /** Named outbound identities: EHLO name and source addresses (listeners pick one with `pool`). */
    pools: Record<string, { ehlo_name?: string; local_addresses: string[] }>;
    max_connections: number;
    tls_required_domains: string[];
    connect_timeout_ms: number;
    providers_file: string;
  };
  queue: { retry_first_ms: number; retry_max_ms: number; lifetime_ms: number; delay_warning_ms: number; shutdown_timeout_ms: number };
  dkim: { master_key?: string; key_dir?: string; operator_domain?: string; operator_selector?: string; algorithms: string[] };
  stats: { retention_days: number; classification_file: string };
  listmonk: { bounce_domain?: string; retry_first_ms: number; retry_max_ms: number };
  /** Sections validated by their own modules (policies, alerts, tenants). */
  policies: Record<string, unknown>;
  alerts: Record<string, unknown>;
  /** Raw `tenants:` and `clients:` arrays (validated here, owned by the tenant directory). */
  tenants: unknown[];
  clients: unknown[];
  /** True when the YAML file lists `clients` (then only they apply). */
  clients_configured: boolean;
}

/** Environment variables operators script, and the key each one sets. */
export const ENV_KEYS: Record<string, string> = {
  RELAIS_HOSTNAME: 'hostname',
  RELAIS_DATA_DIR: 'data_dir',
  RELAIS_LOG_LEVEL: 'log_level',
  RELAIS_PUBLIC_IPS: 'public_ips',
  RELAIS_SMTP_LISTEN: 'smtp.listen',
  RELAIS_MAX_MESSAGE_SIZE: 'smtp.max_message_size',
  RELAIS_MAX_RECIPIENTS: 'smtp.max_recipients',
  RELAIS_RELAY_NETWORKS: 'smtp.relay_networks',
  RELAIS_TLS_CERT: 'smtp.tls.cert',
  RELAIS_TLS_KEY: 'smtp.tls.key',
  RELAIS_API_LISTEN: 'api.listen',
  RELAIS_ADMIN_TOKEN: 'api.admin_token',
  RELAIS_REDIS_URL: 'store.redis_url',
  RELAIS_STORE_PREFIX: 'store.prefix',
  RELAIS_DNS_SERVERS: 'dns.servers',
  RELAIS_SMARTHOST: 'delivery.smarthost',
  RELAIS_SMARTHOST_USER: 'delivery.smarthost_user',
  RELAIS_SMARTHOST_PASSWORD: 'delivery.smarthost_password',
  RELAIS_SMARTHOST_TLS: 'delivery.smarthost_tls',
  RELAIS_ALLOW_PRIVATE_MX: 'delivery.allow_private_mx',
  RELAIS_MX_PORT: 'delivery.mx_port',
  RELAIS_EHLO_NAME: 'delivery.ehlo_name',
  RELAIS_QUEUE_RETRY_FIRST: 'queue.retry_first',
  RELAIS_QUEUE_RETRY_MAX: 'queue.retry_max',
  RELAIS_QUEUE_LIFETIME: 'queue.lifetime',
  RELAIS_QUEUE_DELAY_WARNING: 'queue.delay_warning',
  RELAIS_DKIM_MASTER_KEY: 'dkim.master_key',
  RELAIS_OPERATOR_DOMAIN: 'dkim.operator_domain',
  RELAIS_BOUNCE_DOMAIN: 'listmonk.bounce_domain',
  RELAIS_INBOUND_LISTEN: 'smtp.inbound_listen',
  RELAIS_LISTMONK_RETRY_FIRST: 'listmonk.retry_first',
  RELAIS_LISTMONK_RETRY_MAX: 'listmonk.retry_max',
};

const TOP_KEYS = ['hostname', 'data_dir', 'log_level', 'public_ips', 'smtp', 'api', 'store', 'dns', 'delivery', 'queue', 'dkim', 'stats', 'listmonk', 'policies', 'alerts', 'tenants', 'clients'];

type Raw = Record<string, unknown>;

function section(raw: Raw, key: string): Raw {
  const v = raw[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(key, 'expected a mapping');
  return v as Raw;
}

function checkKeys(prefix: string, obj: Raw, allowed: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ConfigError(prefix ? `${prefix}.${k}` : k, `unknown key (allowed: ${allowed.join(', ')})`);
  }
}

function setPath(raw: Raw, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = raw;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
    cur = cur[p] as Raw;
  }
  cur[parts.at(-1)!] = value;
}

/** The bundled config directory (providers.yaml, classification.yaml). */
export function bundledConfigDir(): string {
  return resolve(new URL('.', import.meta.url).pathname, '../../../config');
}

export function readYamlFile(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `cannot read ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError('--config', `${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('--config', `${file}: expected a mapping at the top`);
  return doc as Raw;
}

function parseListeners(smtp: Raw, envListen: unknown): ListenerConfig[] {
  const out: ListenerConfig[] = [];
  const base = envListen ?? smtp.listen ?? '127.0.0.1:2525';
  parseList('smtp.listen', base).forEach((addr, i) =>
    out.push({ name: i ? `smtp${i}` : 'smtp', listen: parseHostPort('smtp.listen', addr), starttls: true, implicit_tls: false, auth: true, require_auth: false, inbound: false }),
  );
  // Port-25 style listeners for reports coming back from the Internet: no AUTH offered.
  parseList('smtp.inbound_listen', smtp.inbound_listen).forEach((addr, i) =>
    out.push({ name: i ? `inbound${i}` : 'inbound', listen: parseHostPort('smtp.inbound_listen', addr), starttls: true, implicit_tls: false, auth: false, require_auth: false, inbound: true }),
  );
  const extra = smtp.listeners ?? [];
  if (!Array.isArray(extra)) throw new ConfigError('smtp.listeners', 'expected a list');
  extra.forEach((l: unknown, i) => {
    const key = `smtp.listeners[${i}]`;
    if (typeof l !== 'object' || l === null) throw new ConfigError(key, 'expected a mapping');
    const r = l as Raw;
    checkKeys(key, r, ['name', 'listen', 'starttls', 'implicit_tls', 'auth', 'require_auth', 'inbound', 'pool']);
    out.push({
      name: r.name === undefined ? `listener${i + 1}` : parseString(`${key}.name`, r.name),
      listen: parseHostPort(`${key}.listen`, r.listen),
      starttls: r.starttls === undefined ? true : parseBoolean(`${key}.starttls`, r.starttls),
      implicit_tls: r.implicit_tls === undefined ? false : parseBoolean(`${key}.implicit_tls`, r.implicit_tls),
      auth: r.auth === undefined ? true : parseBoolean(`${key}.auth`, r.auth),
      require_auth: r.require_auth === undefined ? false : parseBoolean(`${key}.require_auth`, r.require_auth),
      inbound: r.inbound === undefined ? false : parseBoolean(`${key}.inbound`, r.inbound),
      pool: r.pool === undefined ? undefined : parseString(`${key}.pool`, r.pool),
    });
  });
  return out;
}

function parsePools(raw: Raw): RelaisConfig['delivery']['pools'] {
  const out: RelaisConfig['delivery']['pools'] = {};
  for (const [name, v] of Object.entries(raw)) {
    const key = `delivery.pools.${name}`;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(key, 'expected a mapping with ehlo_name and local_addresses');
    const p = v as Raw;
    checkKeys(key, p, ['ehlo_name', 'local_addresses']);
    out[name] = {
      ehlo_name: p.ehlo_name === undefined ? undefined : parseString(`${key}.ehlo_name`, p.ehlo_name),
      local_addresses: parseList(`${key}.local_addresses`, p.local_addresses).map((ip) => parseIp(`${key}.local_addresses`, ip)),
    };
  }
  return out;
}

const opt = <T>(v: unknown, f: (v: unknown) => T): T | undefined => (v === undefined || v === null || v === '' ? undefined : f(v));

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(opts: LoadOptions = {}): RelaisConfig {
  const env = opts.env ?? process.env;
  const raw: Raw = opts.file ? readYamlFile(opts.file) : {};
  checkKeys('', raw, TOP_KEYS);
  const envListen = env.RELAIS_SMTP_LISTEN;
  for (const [name, path] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '' && name !== 'RELAIS_SMTP_LISTEN') setPath(raw, path, v);
  }

  const smtp = section(raw, 'smtp');
  checkKeys('smtp', smtp, ['listen', 'listeners', 'inbound_listen', 'max_message_size', 'max_recipients', 'relay_networks', 'auth_requires_tls', 'insecure_auth_networks', 'tls', 'bare_newlines', 'banner', 'socket_timeout', 'max_clients', 'greeting_delay']);
  const tls = section(smtp, 'tls');
  checkKeys('smtp.tls', tls, ['cert', 'key']);
  const api = section(raw, 'api');
  checkKeys('api', api, ['listen', 'admin_token', 'rate_limit_per_minute']);
  const store = section(raw, 'store');
  checkKeys('store', store, ['redis_url', 'prefix']);
  const dns = section(raw, 'dns');
  checkKeys('dns', dns, ['servers']);
  const delivery = section(raw, 'delivery');
  checkKeys('delivery', delivery, ['smarthost', 'smarthost_user', 'smarthost_password', 'smarthost_tls', 'allow_private_mx', 'mx_port', 'ehlo_name', 'local_addresses', 'pools', 'max_connections', 'tls_required_domains', 'connect_timeout', 'providers_file']);
  const queue = section(raw, 'queue');
  checkKeys('queue', queue, ['retry_first', 'retry_max', 'lifetime', 'delay_warning', 'shutdown_timeout']);
  const dkim = section(raw, 'dkim');
  checkKeys('dkim', dkim, ['master_key', 'key_dir', 'operator_domain', 'operator_selector', 'algorithms']);
  const stats = section(raw, 'stats');
  checkKeys('stats', stats, ['retention_days', 'classification_file']);
  const listmonk = section(raw, 'listmonk');
  checkKeys('listmonk', listmonk, ['bounce_domain', 'retry_first', 'retry_max']);

  const hostname = raw.hostname === undefined ? osHostname() : parseString('hostname', raw.hostname);
  const relayNetworks = parseList('smtp.relay_networks', smtp.relay_networks ?? ['127.0.0.0/8', '::1/128']);
  const clientsConfigured = Array.isArray(raw.clients);
  const cfgDir = bundledConfigDir();

  const config: RelaisConfig = {
    file: opts.file ? resolve(opts.file) : undefined,
    hostname,
    data_dir: resolve(raw.data_dir === undefined ? './data' : parseString('data_dir', raw.data_dir)),
    log_level: raw.log_level === undefined ? 'info' : parseEnum('log_level', raw.log_level, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    public_ips: parseList('public_ips', raw.public_ips).map((ip) => parseIp('public_ips', ip)),
    smtp: {
      listeners: parseListeners(smtp, envListen),
      max_message_size: smtp.max_message_size === undefined ? 104_857_600 : parseInteger('smtp.max_message_size', smtp.max_message_size, 1024),
      max_recipients: smtp.max_recipients === undefined ? 1000 : parseInteger('smtp.max_recipients', smtp.max_recipients, 1),
      relay_networks: relayNetworks,
      auth_requires_tls: smtp.auth_requires_tls === undefined ? true : parseBoolean('smtp.auth_requires_tls', smtp.auth_requires_tls),
      insecure_auth_networks: parseList('smtp.insecure_auth_networks', smtp.insecure_auth_networks ?? ['127.0.0.0/8', '::1/128']).map((n) => (parseCidr('smtp.insecure_auth_networks', n), n)),
      tls: { cert: opt(tls.cert, (v) => parseString('smtp.tls.cert', v)), key: opt(tls.key, (v) => parseString('smtp.tls.key', v)) },
      bare_newlines: smtp.bare_newlines === undefined ? 'normalize' : parseEnum('smtp.bare_newlines', smtp.bare_newlines, ['normalize', 'reject'] as const),
      banner: smtp.banner === undefined ? 'Relais' : parseString('smtp.banner', smtp.banner),
      socket_timeout_ms: smtp.socket_timeout === undefined ? 300_000 : parseDuration('smtp.socket_timeout', smtp.socket_timeout),
      max_clients: smtp.max_clients === undefined ? 1000 : parseInteger('smtp.max_clients', smtp.max_clients, 1),
      greeting_delay_ms: smtp.greeting_delay === undefined ? 0 : parseDuration('smtp.greeting_delay', smtp.greeting_delay),
    },
    api: {
      listen: parseHostPort('api.listen', api.listen ?? '127.0.0.1:8025'),
      admin_token: opt(api.admin_token, (v) => parseString('api.admin_token', v)),
      rate_limit_per_minute: api.rate_limit_per_minute === undefined ? 600 : parseInteger('api.rate_limit_per_minute', api.rate_limit_per_minute, 1),
    },
    store: {
      redis_url: opt(store.redis_url, (v) => {
        const s = parseString('store.redis_url', v);
        if (!/^(rediss?|redis\+sentinel|redis\+cluster):\/\//.test(s)) throw new ConfigError('store.redis_url', `expected redis://, rediss://, redis+sentinel:// or redis+cluster:// URL, got ${JSON.stringify(s)}`);
        return s;
      }),
      prefix: store.prefix === undefined ? 'relais:' : parseString('store.prefix', store.prefix),
    },
    dns: {
      servers: parseList('dns.servers', dns.servers).map((s) => {
        const hp = parseHostPort('dns.servers', s, 53);
        parseIp('dns.servers', hp.host);
        return s;
      }),
    },
    delivery: {
      smarthost: opt(delivery.smarthost, (v) => parseHostPort('delivery.smarthost', v, 25)),
      smarthost_user: opt(delivery.smarthost_user, (v) => parseString('delivery.smarthost_user', v)),
      smarthost_password: opt(delivery.smarthost_password, (v) => parseString('delivery.smarthost_password', v)),
      smarthost_tls: delivery.smarthost_tls === undefined ? 'opportunistic' : parseEnum('delivery.smarthost_tls', delivery.smarthost_tls, ['opportunistic', 'starttls', 'implicit', 'none'] as const),
      allow_private_mx: delivery.allow_private_mx === undefined ? false : parseBoolean('delivery.allow_private_mx', delivery.allow_private_mx),
      mx_port: delivery.mx_port === undefined ? 25 : parseInteger('delivery.mx_port', delivery.mx_port, 1, 65535),
      ehlo_name: opt(delivery.ehlo_name, (v) => parseString('delivery.ehlo_name', v)),
      local_addresses: parseList('delivery.local_addresses', delivery.local_addresses).map((ip) => parseIp('delivery.local_addresses', ip)),
      pools: parsePools(section(delivery, 'pools')),
      max_connections: delivery.max_connections === undefined ? 100 : parseInteger('delivery.max_connections', delivery.max_connections, 1),
      tls_required_domains: parseList('delivery.tls_required_domains', delivery.tls_required_domains).map((d) => d.toLowerCase()),
      connect_timeout_ms: delivery.connect_timeout === undefined ? 30_000 : parseDuration('delivery.connect_timeout', delivery.connect_timeout),
      providers_file: delivery.providers_file === undefined ? resolve(cfgDir, 'providers.yaml') : parseString('delivery.providers_file', delivery.providers_file),
    },
    queue: {
      retry_first_ms: parseDuration('queue.retry_first', queue.retry_first ?? '5m'),
      retry_max_ms: parseDuration('queue.retry_max', queue.retry_max ?? '1h'),
      lifetime_ms: parseDuration('queue.lifetime', queue.lifetime ?? '5d'),
      delay_warning_ms: parseDuration('queue.delay_warning', queue.delay_warning ?? '4h'),
      shutdown_timeout_ms: parseDuration('queue.shutdown_timeout', queue.shutdown_timeout ?? '30s'),
    },
    dkim: {
      master_key: opt(dkim.master_key, (v) => parseString('dkim.master_key', v)),
      key_dir: opt(dkim.key_dir, (v) => parseString('dkim.key_dir', v)),
      operator_domain: opt(dkim.operator_domain, (v) => parseString('dkim.operator_domain', v).toLowerCase()),
      operator_selector: opt(dkim.operator_selector, (v) => parseString('dkim.operator_selector', v)),
      algorithms: parseList('dkim.algorithms', dkim.algorithms ?? ['rsa', 'ed25519']),
    },
    stats: {
      retention_days: stats.retention_days === undefined ? 90 : parseInteger('stats.retention_days', stats.retention_days, 1, 3650),
      classification_file: stats.classification_file === undefined ? resolve(cfgDir, 'classification.yaml') : parseString('stats.classification_file', stats.classification_file),
    },
    listmonk: {
      bounce_domain: opt(listmonk.bounce_domain, (v) => parseString('listmonk.bounce_domain', v).toLowerCase()),
      retry_first_ms: parseDuration('listmonk.retry_first', listmonk.retry_first ?? '5s'),
      retry_max_ms: parseDuration('listmonk.retry_max', listmonk.retry_max ?? '15m'),
    },
    policies: section(raw, 'policies'),
    alerts: section(raw, 'alerts'),
    tenants: Array.isArray(raw.tenants) ? raw.tenants : raw.tenants === undefined ? [] : (() => {
      throw new ConfigError('tenants', 'expected a list');
    })(),
    clients: [],
    clients_configured: clientsConfigured,
  };
  if (config.queue.retry_max_ms < config.queue.retry_first_ms) throw new ConfigError('queue.retry_max', 'must not be shorter than queue.retry_first');
  if (config.listmonk.retry_first_ms < 1 || config.listmonk.retry_max_ms < config.listmonk.retry_first_ms) throw new ConfigError('listmonk.retry_max', 'listmonk.retry_first must be > 0 and retry_max not shorter');
  for (const l of config.smtp.listeners) {
    if (l.pool && !config.delivery.pools[l.pool]) throw new ConfigError(`smtp.listeners (${l.name}).pool`, `unknown pool "${l.pool}" (define it under delivery.pools)`);
  }
  const inbound = config.smtp.listeners.find((l) => l.inbound);
  if (inbound && !config.listmonk.bounce_domain) throw new ConfigError(inbound.name === 'inbound' ? 'smtp.inbound_listen' : 'smtp.listeners', `inbound listener "${inbound.name}" needs listmonk.bounce_domain (RELAIS_BOUNCE_DOMAIN)`);
  if (clientsConfigured) {
    config.clients = raw.clients as unknown[];
  } else {
    relayNetworks.forEach((n) => parseCidr('smtp.relay_networks', n));
    // Like Postfix's mynetworks_style = host: these networks may relay for any sender.
    config.clients = [{ name: 'relay-networks', networks: relayNetworks, tenants: ['*'], allow_null_sender: true, trusted: true }];
  }
  validateSeed({ tenants: config.tenants, clients: config.clients }, env);
  resolvePolicyConfig(config.policies);
  parseAlertsConfig(config.alerts);
  return config;
}
