/**
 * Relais configuration: one YAML file plus RELAIS_* environment overrides (env wins). Every key,
 * its default and its variable are documented in config/relais.example.yaml. Loading validates
 * everything and throws ConfigError naming the key: a bad config fails at start, never later.
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, type HostPort, type Obj, cidr, duration, envBool, envInt, envList, hostPort, ip, list, mapping, num, onlyKeys, oneOf, str, strList } from '../../config/validate.js';
import { validateSeed } from '../tenants/validate.js';
import { readYaml } from '../../config/data-file.js';
import { bundledConfigPath } from '../../config/paths.js';
import { resolvePolicyConfig } from '../../policies/service/config.js';
import { parseAlertsConfig } from '../stats/alerts-config.js';
import { parseDmarcConfig, type DmarcConfig } from '../dmarc/config.js';
import { parseDnsblConfig, type DnsblConfig } from '../dnsbl/config.js';

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
    /** Largest header section of a message (552 5.3.4 past it, nothing kept). */
    max_header_size: number;
    /** Largest report (DSN/complaint to a VERP address), checked while it streams in. */
    max_report_size: number;
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
    /** AUTH failures an address may make within auth_failure_window before its cooling-off. */
    auth_failures_per_address: number;
    /** AUTH failures for one user name (all addresses) before it is refused from new addresses. */
    auth_failures_per_user: number;
    auth_failure_window_ms: number;
    auth_cooloff_ms: number;
  };
  api: { listen: HostPort; admin_token?: string; rate_limit_per_minute: number; /** /metrics answers only to an admin token. */ metrics_token_required: boolean };
  store: { redis_url?: string; prefix: string };
  dns: { servers: string[] };
  delivery: {
    smarthost?: HostPort;
    smarthost_user?: string;
    smarthost_password?: string;
    smarthost_tls: 'opportunistic' | 'starttls' | 'implicit' | 'none';
    /** PEM file of CAs trusted for the smarthost's certificate, besides the system ones. */
    smarthost_ca_file?: string;
    allow_private_mx: boolean;
    mx_port: number;
    ehlo_name?: string;
    local_addresses: string[];
    /** Named outbound identities: EHLO name and source addresses (listeners pick one with `pool`). */
    pools: Record<string, { ehlo_name?: string; local_addresses: string[]; warmup?: WarmupConfig }>;
    max_connections: number;
    tls_required_domains: string[];
    connect_timeout_ms: number;
    providers_file: string;
  };
  queue: { retry_first_ms: number; retry_max_ms: number; lifetime_ms: number; delay_warning_ms: number; shutdown_timeout_ms: number };
  dkim: { master_key?: string; key_dir?: string; operator_domain?: string; operator_selector?: string; algorithms: string[] };
  stats: { retention_days: number; classification_file: string };
  listmonk: { bounce_domain?: string; postmaster_forward?: string; retry_first_ms: number; retry_max_ms: number };
  /** DMARC / TLS report intake (src/dmarc/config.ts) and block-list watch (src/dnsbl/config.ts). */
  dmarc: DmarcConfig;
  dnsbl: DnsblConfig;
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
  RELAIS_SMTP_MAX_HEADER_SIZE: 'smtp.max_header_size',
  RELAIS_SMTP_MAX_REPORT_SIZE: 'smtp.max_report_size',
  RELAIS_MAX_RECIPIENTS: 'smtp.max_recipients',
  RELAIS_RELAY_NETWORKS: 'smtp.relay_networks',
  RELAIS_TLS_CERT: 'smtp.tls.cert',
  RELAIS_TLS_KEY: 'smtp.tls.key',
  RELAIS_API_LISTEN: 'api.listen',
  RELAIS_ADMIN_TOKEN: 'api.admin_token',
  RELAIS_METRICS_TOKEN_REQUIRED: 'api.metrics_token_required',
  RELAIS_REDIS_URL: 'store.redis_url',
  RELAIS_STORE_PREFIX: 'store.prefix',
  RELAIS_DNS_SERVERS: 'dns.servers',
  RELAIS_SMARTHOST: 'delivery.smarthost',
  RELAIS_SMARTHOST_USER: 'delivery.smarthost_user',
  RELAIS_SMARTHOST_PASSWORD: 'delivery.smarthost_password',
  RELAIS_SMARTHOST_TLS: 'delivery.smarthost_tls',
  RELAIS_SMARTHOST_CA_FILE: 'delivery.smarthost_ca_file',
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
  RELAIS_POSTMASTER_FORWARD: 'listmonk.postmaster_forward',
  RELAIS_INBOUND_LISTEN: 'smtp.inbound_listen',
  RELAIS_LISTMONK_RETRY_FIRST: 'listmonk.retry_first',
  RELAIS_LISTMONK_RETRY_MAX: 'listmonk.retry_max',
};

const TOP_KEYS = ['hostname', 'data_dir', 'log_level', 'public_ips', 'smtp', 'api', 'store', 'dns', 'delivery', 'queue', 'dkim', 'stats', 'listmonk', 'dmarc', 'dnsbl', 'policies', 'alerts', 'tenants', 'clients'];

type Raw = Obj;

function section(raw: Raw, key: string): Raw {
  const v = raw[key];
  return v === undefined || v === null ? {} : mapping(v, key);
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

function readYamlFile(file: string): Raw {
  const doc = readYaml(file, '--config') ?? {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('--config', `${file}: expected a mapping at the top`);
  return doc as Raw;
}

function parseListeners(smtp: Raw, envListen: unknown): ListenerConfig[] {
  const out: ListenerConfig[] = [];
  const base = envListen ?? smtp.listen ?? '127.0.0.1:2525';
  envList(base, 'smtp.listen').forEach((addr, i) =>
    out.push({ name: i ? `smtp${i}` : 'smtp', listen: hostPort(addr, 'smtp.listen'), starttls: true, implicit_tls: false, auth: true, require_auth: false, inbound: false }),
  );
  // Port-25 style listeners for reports coming back from the Internet: no AUTH offered.
  envList(smtp.inbound_listen, 'smtp.inbound_listen').forEach((addr, i) =>
    out.push({ name: i ? `inbound${i}` : 'inbound', listen: hostPort(addr, 'smtp.inbound_listen'), starttls: true, implicit_tls: false, auth: false, require_auth: false, inbound: true }),
  );
  list(smtp.listeners ?? [], 'smtp.listeners').forEach((l, i) => {
    const key = `smtp.listeners[${i}]`;
    const r = mapping(l, key);
    onlyKeys(r, key, ['name', 'listen', 'starttls', 'implicit_tls', 'auth', 'require_auth', 'inbound', 'pool']);
    out.push({
      name: r.name === undefined ? `listener${i + 1}` : str(r.name, `${key}.name`),
      listen: hostPort(r.listen, `${key}.listen`),
      starttls: r.starttls === undefined ? true : envBool(r.starttls, `${key}.starttls`),
      implicit_tls: r.implicit_tls === undefined ? false : envBool(r.implicit_tls, `${key}.implicit_tls`),
      auth: r.auth === undefined ? true : envBool(r.auth, `${key}.auth`),
      require_auth: r.require_auth === undefined ? false : envBool(r.require_auth, `${key}.require_auth`),
      inbound: r.inbound === undefined ? false : envBool(r.inbound, `${key}.inbound`),
      pool: r.pool === undefined ? undefined : str(r.pool, `${key}.pool`),
    });
  });
  return out;
}

/** `delivery.pools.<name>.warmup`: day d since `start` allows initial × growth^d messages per provider. */
export interface WarmupConfig {
  /** YYYY-MM-DD, day 0 (UTC). */
  start: string;
  initial: number;
  growth: number;
  /** Warm-up is over once a day's volume reaches this. */
  max: number;
  /** Provider ids (config/providers.yaml) it applies to; absent = all. */
  providers?: string[];
}

function parseWarmup(key: string, raw: unknown): WarmupConfig {
  const w = mapping(raw, key);
  onlyKeys(w, key, ['start', 'initial', 'growth', 'max', 'providers']);
  // YAML may read an unquoted date as a Date.
  const start = w.start instanceof Date ? w.start.toISOString().slice(0, 10) : str(w.start, `${key}.start`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || Number.isNaN(Date.parse(`${start}T00:00:00Z`))) throw new ConfigError(`${key}.start`, `must be a date YYYY-MM-DD (got ${JSON.stringify(start)})`);
  const growth = w.growth === undefined ? 1.5 : num(w.growth, `${key}.growth`, 1, 10);
  const initial = w.initial === undefined ? 50 : envInt(w.initial, `${key}.initial`, 1);
  const max = w.max === undefined ? 100_000 : envInt(w.max, `${key}.max`, initial);
  const providers = w.providers === undefined ? undefined : strList(w.providers, `${key}.providers`);
  for (const p of providers ?? []) if (!/^[a-z0-9_-]+$/.test(p)) throw new ConfigError(`${key}.providers`, `"${p}" is not a provider id of providers.yaml`);
  return { start, initial, growth, max, ...(providers ? { providers } : {}) };
}

function parsePools(raw: Raw): RelaisConfig['delivery']['pools'] {
  const out: RelaisConfig['delivery']['pools'] = {};
  for (const [name, v] of Object.entries(raw)) {
    const key = `delivery.pools.${name}`;
    const p = mapping(v, key);
    onlyKeys(p, key, ['ehlo_name', 'local_addresses', 'warmup']);
    out[name] = {
      ehlo_name: p.ehlo_name === undefined ? undefined : str(p.ehlo_name, `${key}.ehlo_name`),
      local_addresses: envList(p.local_addresses, `${key}.local_addresses`).map((a) => ip(a, `${key}.local_addresses`)),
      ...(p.warmup === undefined || p.warmup === null ? {} : { warmup: parseWarmup(`${key}.warmup`, p.warmup) }),
    };
  }
  return out;
}

/** A readable PEM file holding at least one certificate (checked at start, read by delivery). */
function pemFile(v: unknown, key: string): string {
  const file = resolve(str(v, key));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(key, `cannot read ${file}: ${(err as Error).message}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(key, `${file} holds no PEM certificate`);
  return file;
}

const opt = <T>(v: unknown, f: (v: unknown) => T): T | undefined => (v === undefined || v === null || v === '' ? undefined : f(v));

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(opts: LoadOptions = {}): RelaisConfig {
  const env = opts.env ?? process.env;
  const raw: Raw = opts.file ? readYamlFile(opts.file) : {};
  onlyKeys(raw, '', TOP_KEYS);
  const envListen = env.RELAIS_SMTP_LISTEN;
  for (const [name, path] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '' && name !== 'RELAIS_SMTP_LISTEN') setPath(raw, path, v);
  }

  const smtp = section(raw, 'smtp');
  onlyKeys(smtp, 'smtp', ['listen', 'listeners', 'inbound_listen', 'max_message_size', 'max_header_size', 'max_report_size', 'max_recipients', 'relay_networks', 'auth_requires_tls', 'insecure_auth_networks', 'tls', 'bare_newlines', 'banner', 'socket_timeout', 'max_clients', 'greeting_delay', 'auth_failures_per_address', 'auth_failures_per_user', 'auth_failure_window', 'auth_cooloff']);
  const tls = section(smtp, 'tls');
  onlyKeys(tls, 'smtp.tls', ['cert', 'key']);
  const api = section(raw, 'api');
  onlyKeys(api, 'api', ['listen', 'admin_token', 'rate_limit_per_minute', 'metrics_token_required']);
  const store = section(raw, 'store');
  onlyKeys(store, 'store', ['redis_url', 'prefix']);
  const dns = section(raw, 'dns');
  onlyKeys(dns, 'dns', ['servers']);
  const delivery = section(raw, 'delivery');
  onlyKeys(delivery, 'delivery', ['smarthost', 'smarthost_user', 'smarthost_password', 'smarthost_tls', 'smarthost_ca_file', 'allow_private_mx', 'mx_port', 'ehlo_name', 'local_addresses', 'pools', 'max_connections', 'tls_required_domains', 'connect_timeout', 'providers_file']);
  const queue = section(raw, 'queue');
  onlyKeys(queue, 'queue', ['retry_first', 'retry_max', 'lifetime', 'delay_warning', 'shutdown_timeout']);
  const dkim = section(raw, 'dkim');
  onlyKeys(dkim, 'dkim', ['master_key', 'key_dir', 'operator_domain', 'operator_selector', 'algorithms']);
  const stats = section(raw, 'stats');
  onlyKeys(stats, 'stats', ['retention_days', 'classification_file']);
  const listmonk = section(raw, 'listmonk');
  onlyKeys(listmonk, 'listmonk', ['bounce_domain', 'postmaster_forward', 'retry_first', 'retry_max']);

  const hostname = raw.hostname === undefined ? osHostname() : str(raw.hostname, 'hostname');
  const relayNetworks = envList(smtp.relay_networks ?? ['127.0.0.0/8', '::1/128'], 'smtp.relay_networks');
  const clientsConfigured = Array.isArray(raw.clients);

  const config: RelaisConfig = {
    file: opts.file ? resolve(opts.file) : undefined,
    hostname,
    data_dir: resolve(raw.data_dir === undefined ? './data' : str(raw.data_dir, 'data_dir')),
    log_level: raw.log_level === undefined ? 'info' : oneOf(raw.log_level, 'log_level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    public_ips: envList(raw.public_ips, 'public_ips').map((a) => ip(a, 'public_ips')),
    smtp: {
      listeners: parseListeners(smtp, envListen),
      max_message_size: smtp.max_message_size === undefined ? 104_857_600 : envInt(smtp.max_message_size, 'smtp.max_message_size', 1024),
      max_header_size: smtp.max_header_size === undefined ? 1_048_576 : envInt(smtp.max_header_size, 'smtp.max_header_size', 1024),
      max_report_size: smtp.max_report_size === undefined ? 2_097_152 : envInt(smtp.max_report_size, 'smtp.max_report_size', 1024),
      max_recipients: smtp.max_recipients === undefined ? 1000 : envInt(smtp.max_recipients, 'smtp.max_recipients', 1),
      relay_networks: relayNetworks,
      auth_requires_tls: smtp.auth_requires_tls === undefined ? true : envBool(smtp.auth_requires_tls, 'smtp.auth_requires_tls'),
      insecure_auth_networks: envList(smtp.insecure_auth_networks ?? ['127.0.0.0/8', '::1/128'], 'smtp.insecure_auth_networks').map((n) => (cidr(n, 'smtp.insecure_auth_networks'), n)),
      tls: { cert: opt(tls.cert, (v) => str(v, 'smtp.tls.cert')), key: opt(tls.key, (v) => str(v, 'smtp.tls.key')) },
      bare_newlines: smtp.bare_newlines === undefined ? 'normalize' : oneOf(smtp.bare_newlines, 'smtp.bare_newlines', ['normalize', 'reject'] as const),
      banner: smtp.banner === undefined ? 'Relais' : str(smtp.banner, 'smtp.banner'),
      socket_timeout_ms: smtp.socket_timeout === undefined ? 300_000 : duration(smtp.socket_timeout, 'smtp.socket_timeout'),
      max_clients: smtp.max_clients === undefined ? 1000 : envInt(smtp.max_clients, 'smtp.max_clients', 1),
      greeting_delay_ms: smtp.greeting_delay === undefined ? 0 : duration(smtp.greeting_delay, 'smtp.greeting_delay'),
      auth_failures_per_address: smtp.auth_failures_per_address === undefined ? 10 : envInt(smtp.auth_failures_per_address, 'smtp.auth_failures_per_address', 1),
      auth_failures_per_user: smtp.auth_failures_per_user === undefined ? 30 : envInt(smtp.auth_failures_per_user, 'smtp.auth_failures_per_user', 1),
      auth_failure_window_ms: duration(smtp.auth_failure_window ?? '15m', 'smtp.auth_failure_window'),
      auth_cooloff_ms: duration(smtp.auth_cooloff ?? '15m', 'smtp.auth_cooloff'),
    },
    api: {
      listen: hostPort(api.listen ?? '127.0.0.1:8025', 'api.listen'),
      admin_token: opt(api.admin_token, (v) => str(v, 'api.admin_token')),
      rate_limit_per_minute: api.rate_limit_per_minute === undefined ? 600 : envInt(api.rate_limit_per_minute, 'api.rate_limit_per_minute', 1),
      metrics_token_required: api.metrics_token_required === undefined ? false : envBool(api.metrics_token_required, 'api.metrics_token_required'),
    },
    store: {
      redis_url: opt(store.redis_url, (v) => {
        const s = str(v, 'store.redis_url');
        if (!/^(rediss?|redis\+sentinel|redis\+cluster):\/\//.test(s)) throw new ConfigError('store.redis_url', `expected redis://, rediss://, redis+sentinel:// or redis+cluster:// URL, got ${JSON.stringify(s)}`);
        return s;
      }),
      prefix: store.prefix === undefined ? 'relais:' : str(store.prefix, 'store.prefix'),
    },
    dns: {
      servers: envList(dns.servers, 'dns.servers').map((s) => {
        const hp = hostPort(s, 'dns.servers', 53);
        ip(hp.host, 'dns.servers');
        return s;
      }),
    },
    delivery: {
      smarthost: opt(delivery.smarthost, (v) => hostPort(v, 'delivery.smarthost', 25)),
      smarthost_user: opt(delivery.smarthost_user, (v) => str(v, 'delivery.smarthost_user')),
      smarthost_password: opt(delivery.smarthost_password, (v) => str(v, 'delivery.smarthost_password')),
      smarthost_tls: delivery.smarthost_tls === undefined ? 'opportunistic' : oneOf(delivery.smarthost_tls, 'delivery.smarthost_tls', ['opportunistic', 'starttls', 'implicit', 'none'] as const),
      smarthost_ca_file: opt(delivery.smarthost_ca_file, (v) => pemFile(v, 'delivery.smarthost_ca_file')),
      allow_private_mx: delivery.allow_private_mx === undefined ? false : envBool(delivery.allow_private_mx, 'delivery.allow_private_mx'),
      mx_port: delivery.mx_port === undefined ? 25 : envInt(delivery.mx_port, 'delivery.mx_port', 1, 65535),
      ehlo_name: opt(delivery.ehlo_name, (v) => str(v, 'delivery.ehlo_name')),
      local_addresses: envList(delivery.local_addresses, 'delivery.local_addresses').map((a) => ip(a, 'delivery.local_addresses')),
      pools: parsePools(section(delivery, 'pools')),
      max_connections: delivery.max_connections === undefined ? 100 : envInt(delivery.max_connections, 'delivery.max_connections', 1),
      tls_required_domains: envList(delivery.tls_required_domains, 'delivery.tls_required_domains').map((d) => d.toLowerCase()),
      connect_timeout_ms: delivery.connect_timeout === undefined ? 30_000 : duration(delivery.connect_timeout, 'delivery.connect_timeout'),
      providers_file: delivery.providers_file === undefined ? bundledConfigPath('providers.yaml') : str(delivery.providers_file, 'delivery.providers_file'),
    },
    queue: {
      retry_first_ms: duration(queue.retry_first ?? '5m', 'queue.retry_first'),
      retry_max_ms: duration(queue.retry_max ?? '1h', 'queue.retry_max'),
      lifetime_ms: duration(queue.lifetime ?? '5d', 'queue.lifetime'),
      delay_warning_ms: duration(queue.delay_warning ?? '4h', 'queue.delay_warning'),
      shutdown_timeout_ms: duration(queue.shutdown_timeout ?? '30s', 'queue.shutdown_timeout'),
    },
    dkim: {
      master_key: opt(dkim.master_key, (v) => str(v, 'dkim.master_key')),
      key_dir: opt(dkim.key_dir, (v) => str(v, 'dkim.key_dir')),
      operator_domain: opt(dkim.operator_domain, (v) => str(v, 'dkim.operator_domain').toLowerCase()),
      operator_selector: opt(dkim.operator_selector, (v) => str(v, 'dkim.operator_selector')),
      algorithms: envList(dkim.algorithms ?? ['rsa', 'ed25519'], 'dkim.algorithms'),
    },
    stats: {
      retention_days: stats.retention_days === undefined ? 90 : envInt(stats.retention_days, 'stats.retention_days', 1, 3650),
      classification_file: stats.classification_file === undefined ? bundledConfigPath('classification.yaml') : str(stats.classification_file, 'stats.classification_file'),
    },
    listmonk: {
      bounce_domain: opt(listmonk.bounce_domain, (v) => str(v, 'listmonk.bounce_domain').toLowerCase()),
      postmaster_forward: opt(listmonk.postmaster_forward, (v) => {
        const a = str(v, 'listmonk.postmaster_forward').trim();
        if (!/^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$/.test(a)) throw new ConfigError('listmonk.postmaster_forward', `must be an e-mail address, got "${a}"`);
        return a;
      }),
      retry_first_ms: duration(listmonk.retry_first ?? '5s', 'listmonk.retry_first'),
      retry_max_ms: duration(listmonk.retry_max ?? '15m', 'listmonk.retry_max'),
    },
    dmarc: parseDmarcConfig(section(raw, 'dmarc')),
    dnsbl: parseDnsblConfig(section(raw, 'dnsbl')),
    policies: section(raw, 'policies'),
    alerts: section(raw, 'alerts'),
    tenants: raw.tenants === undefined ? [] : list(raw.tenants, 'tenants'),
    clients: [],
    clients_configured: clientsConfigured,
  };
  if (config.queue.retry_max_ms < config.queue.retry_first_ms) throw new ConfigError('queue.retry_max', 'must not be shorter than queue.retry_first');
  if (config.listmonk.retry_first_ms < 1 || config.listmonk.retry_max_ms < config.listmonk.retry_first_ms) throw new ConfigError('listmonk.retry_max', 'listmonk.retry_first must be > 0 and retry_max not shorter');
  for (const l of config.smtp.listeners) {
    if (l.pool && !config.delivery.pools[l.pool]) throw new ConfigError(`smtp.listeners (${l.name}).pool`, `unknown pool "${l.pool}" (define it under delivery.pools)`);
  }
  const lm = config.listmonk;
  // RFC 5321 §4.5.1: a domain that receives mail must take postmaster@ — it goes to a person.
  if (lm.bounce_domain && !lm.postmaster_forward) throw new ConfigError('listmonk.postmaster_forward', `listmonk.bounce_domain is set (${lm.bounce_domain}): give the address that receives mail for postmaster@${lm.bounce_domain} (RELAIS_POSTMASTER_FORWARD), e.g. an admin mailbox`);
  if (lm.bounce_domain && lm.postmaster_forward?.toLowerCase().endsWith(`@${lm.bounce_domain}`)) throw new ConfigError('listmonk.postmaster_forward', `must be outside the bounce domain ${lm.bounce_domain} (it would loop)`);
  const inbound = config.smtp.listeners.find((l) => l.inbound);
  if (inbound && !config.listmonk.bounce_domain) throw new ConfigError(inbound.name === 'inbound' ? 'smtp.inbound_listen' : 'smtp.listeners', `inbound listener "${inbound.name}" needs listmonk.bounce_domain (RELAIS_BOUNCE_DOMAIN)`);
  if (clientsConfigured) {
    config.clients = raw.clients as unknown[];
  } else {
    relayNetworks.forEach((n) => cidr(n, 'smtp.relay_networks'));
    // Like Postfix's mynetworks_style = host: these networks may relay for any sender.
    config.clients = [{ name: 'relay-networks', networks: relayNetworks, tenants: ['*'], allow_null_sender: true, trusted: true }];
  }
  validateSeed({ tenants: config.tenants, clients: config.clients }, env);
  resolvePolicyConfig(config.policies);
  parseAlertsConfig(config.alerts);
  return config;
}
