/**
 * Small value parsers shared by the config loader: each throws ConfigError naming the key, so
 * a bad value fails at start ("smtp.listen: expected host:port, got 'x'"), never later.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(key: string, value: unknown, defaultPort?: number): HostPort {
  if (typeof value !== 'string' || !value.trim()) throw new ConfigError(key, `expected host:port, got ${JSON.stringify(value)}`);
  const s = value.trim();
  let host: string;
  let portStr: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    portStr = bracket[2];
  } else if (isIP(s) === 6) {
    host = s;
  } else {
    const i = s.lastIndexOf(':');
    host = i < 0 ? s : s.slice(0, i);
    portStr = i < 0 ? undefined : s.slice(i + 1);
  }
  if (!host) throw new ConfigError(key, `missing host in ${JSON.stringify(s)}`);
  if (portStr === undefined) {
    if (defaultPort === undefined) throw new ConfigError(key, `missing port in ${JSON.stringify(s)} (expected host:port)`);
    return { host, port: defaultPort };
  }
  const port = Number(portStr);
  if (!/^\d+$/.test(portStr) || port < 0 || port > 65535) throw new ConfigError(key, `invalid port ${JSON.stringify(portStr)}`);
  return { host, port };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30s", "5m", "4h", "5d", "1h30m", or a number of seconds. */
export function parseDuration(key: string, value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000;
  if (typeof value !== 'string') throw new ConfigError(key, `expected a duration like 30s, 5m, 4h, 5d; got ${JSON.stringify(value)}`);
  const s = value.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (!s || consumed !== s.length) throw new ConfigError(key, `expected a duration like 30s, 5m, 4h, 5d; got ${JSON.stringify(value)}`);
  return total;
}

export function parseInteger(key: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(key, `expected an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
  return n;
}

export function parseBoolean(key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  }
  throw new ConfigError(key, `expected true or false, got ${JSON.stringify(value)}`);
}

export function parseString(key: string, value: unknown, opts: { allowEmpty?: boolean } = {}): string {
  if (typeof value !== 'string' || (!opts.allowEmpty && !value.trim())) throw new ConfigError(key, `expected a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

export function parseEnum<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T))
    throw new ConfigError(key, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** A list given as a YAML sequence or a comma-separated string (environment variables). */
export function parseList(key: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map((v) => v.trim());
  throw new ConfigError(key, `expected a list of strings, got ${JSON.stringify(value)}`);
}

export function parseCidr(key: string, value: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  try {
    if (!value.includes('/')) {
      const addr = ipaddr.parse(value);
      return [addr, addr.kind() === 'ipv4' ? 32 : 128];
    }
    return ipaddr.parseCIDR(value);
  } catch {
    throw new ConfigError(key, `invalid network ${JSON.stringify(value)} (expected CIDR like 10.0.0.0/8)`);
  }
}

export function parseIp(key: string, value: string): string {
  if (!isIP(value)) throw new ConfigError(key, `invalid IP address ${JSON.stringify(value)}`);
  return value;
}
