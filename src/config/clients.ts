/**
 * SMTP clients in the YAML file: named credentials (AUTH PLAIN/LOGIN, scrypt hash) and/or
 * networks allowed without AUTH, each tied to the tenants it may send for ("*" = any sender).
 * With no `clients` key, loopback (or RELAIS_RELAY_NETWORKS) may relay for any sender, like
 * Postfix's mynetworks_style = host.
 */
import { isPasswordHash } from '../clients/password.js';
import { ConfigError, parseBoolean, parseCidr, parseList, parseString } from './parse.js';

export interface ClientConfig {
  name: string;
  password_hash?: string;
  networks: string[];
  tenants: string[];
  newsletter: boolean;
  disabled: boolean;
}

export function parseClients(raw: unknown, relayNetworks: string[], configured: boolean): ClientConfig[] {
  if (!configured) {
    relayNetworks.forEach((n) => parseCidr('smtp.relay_networks', n));
    return [{ name: 'relay-networks', networks: relayNetworks, tenants: ['*'], newsletter: false, disabled: false }];
  }
  if (!Array.isArray(raw)) throw new ConfigError('clients', 'expected a list');
  const names = new Set<string>();
  return raw.map((c: unknown, i) => parseClient(`clients[${i}]`, c, names));
}

export function parseClient(key: string, c: unknown, names = new Set<string>()): ClientConfig {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new ConfigError(key, 'expected a mapping');
  const r = c as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!['name', 'password_hash', 'networks', 'tenants', 'newsletter', 'disabled'].includes(k))
      throw new ConfigError(`${key}.${k}`, 'unknown key (allowed: name, password_hash, networks, tenants, newsletter, disabled)');
  }
  const name = parseString(`${key}.name`, r.name);
  if (names.has(name)) throw new ConfigError(`${key}.name`, `duplicate client name ${JSON.stringify(name)}`);
  names.add(name);
  let password_hash: string | undefined;
  if (r.password_hash !== undefined) {
    password_hash = parseString(`${key}.password_hash`, r.password_hash);
    if (!isPasswordHash(password_hash)) throw new ConfigError(`${key}.password_hash`, 'expected a "$scrypt$..." hash as printed by `relais hash-password`');
  }
  const networks = parseList(`${key}.networks`, r.networks);
  networks.forEach((n) => parseCidr(`${key}.networks`, n));
  if (!password_hash && networks.length === 0) throw new ConfigError(key, 'a client needs a password_hash, networks, or both');
  const tenants = parseList(`${key}.tenants`, r.tenants ?? []);
  if (tenants.length === 0) throw new ConfigError(`${key}.tenants`, 'list the tenants this client may send for ("*" = any sender)');
  return {
    name,
    password_hash,
    networks,
    tenants,
    newsletter: r.newsletter === undefined ? false : parseBoolean(`${key}.newsletter`, r.newsletter),
    disabled: r.disabled === undefined ? false : parseBoolean(`${key}.disabled`, r.disabled),
  };
}
