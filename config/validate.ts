/**
 * The one validation kit of every configuration Relais reads: the main YAML file and its RELAIS_*
 * variables, tenants and clients (also when changed through the API), policies, alerts, the
 * providers and classification files.
 *
 * One style: a checker takes the value and its key path and returns the value typed, or throws a
 * ConfigError whose problems read "<key path>: <what is wrong>", e.g.
 * "tenants[2].limits.mailbox.messages_per_hour: must be a positive integer". A loader that stops at
 * the first problem just calls checkers; one that reports every problem (tenants, policies) runs
 * each check through `Problems.take` and throws them all at the end with `throwIfAny`.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type Obj = Record<string, unknown>;

export class ConfigError extends Error {
  /** Every problem found, each "<key path>: <what is wrong>". */
  readonly problems: string[];

  /** One problem (`new ConfigError('smtp.listen', 'must be host:port')`) or several. */
  constructor(key: string, problem: string);
  constructor(problems: string[]);
  constructor(keyOrProblems: string | string[], problem?: string) {
    const problems = typeof keyOrProblems === 'string' ? [`${keyOrProblems}: ${problem}`] : keyOrProblems;
    super(problems.length === 1 ? problems[0] : `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

/** Collects the problems of a validator that reports all of them at once. */
export class Problems {
  readonly list: string[] = [];

  add(key: string, problem: string): undefined {
    this.list.push(`${key}: ${problem}`);
    return undefined;
  }

  /** Runs one check; its ConfigError becomes problems of this list (and the answer undefined). */
  take<T>(check: () => T): T | undefined {
    try {
      return check();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.list.push(...err.problems);
      return undefined;
    }
  }

  /** An optional value: undefined when not given, else `check`ed like `take`. */
  opt<T>(v: unknown, key: string, check: (v: unknown, key: string) => T): T | undefined {
    return v === undefined ? undefined : this.take(() => check(v, key));
  }

  /** The keys of `checks` that `o` gives, each checked like `opt`: those that pass, typed. */
  fields<T>(o: Obj, path: string, checks: { [K in keyof T]-?: (v: unknown, key: string) => T[K] }): Partial<T> {
    const out: Partial<T> = {};
    for (const k of Object.keys(checks) as (keyof T & string)[]) {
      const v = this.opt(o[k], `${path}.${k}`, checks[k]);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  throwIfAny(): void {
    if (this.list.length) throw new ConfigError(this.list);
  }
}

/** Runs a loader of a file, naming the file in front of each problem ("providers.yaml: …"). */
export function inFile<T>(file: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.problems.map((p) => `${file}: ${p}`));
    throw err;
  }
}

/** Throws the one problem of `key` (for rules no checker covers). */
export function fail(key: string, problem: string): never {
  throw new ConfigError(key, problem);
}
const shown = (v: unknown) => JSON.stringify(v);

/** undefined, null and '' are "not given" (YAML's empty value, an unset ${VAR} default). */
export const absent = (v: unknown): v is undefined | null | '' => v === undefined || v === null || v === '';

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mapping(v: unknown, key: string): Obj {
  return isObj(v) ? v : fail(key, 'must be a mapping');
}

/** Refuses keys it does not know (a misspelt key silently ignored is worse): one problem each. */
export function onlyKeys(o: Obj, key: string, allowed: readonly string[]): void {
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new ConfigError(unknown.map((k) => `${key ? `${key}.${k}` : k}: unknown key (expected one of: ${allowed.join(', ')})`));
}

export function list(v: unknown, key: string): unknown[] {
  return Array.isArray(v) ? v : fail(key, 'must be a list');
}

/** A required string. */
export function str(v: unknown, key: string): string {
  if (absent(v) || (typeof v === 'string' && !v.trim())) return fail(key, 'is required');
  return typeof v === 'string' ? v : fail(key, 'must be a string');
}

export function optStr(v: unknown, key: string): string | undefined {
  return absent(v) ? undefined : str(v, key);
}

/** A list of non-empty strings. */
export function strList(v: unknown, key: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !x)) return fail(key, 'must be a list of strings');
  return v as string[];
}

/** true or false; `dflt` when not given (undefined or null), if there is one. */
export function bool(v: unknown, key: string, dflt?: boolean): boolean {
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  return typeof v === 'boolean' ? v : fail(key, 'must be true or false');
}

export function posInt(v: unknown, key: string): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fail(key, 'must be a positive integer');
}

export function posNumber(v: unknown, key: string): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fail(key, 'must be a positive number');
}

export function num(v: unknown, key: string, min: number, max: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : fail(key, `must be a number between ${min} and ${max}`);
}

export function oneOf<T extends string>(v: unknown, key: string, allowed: readonly T[]): T {
  return typeof v === 'string' && allowed.includes(v as T) ? (v as T) : fail(key, `must be one of ${allowed.join('|')}`);
}

/** Case-insensitive regex from a string. */
export function regex(v: unknown, key: string): RegExp {
  const s = str(v, key);
  try {
    return new RegExp(s, 'i');
  } catch (err) {
    return fail(key, `is not a valid regex: ${(err as Error).message}`);
  }
}

/** An http(s) URL, without its trailing slashes. */
export function url(v: unknown, key: string): string {
  const s = str(v, key);
  let ok = false;
  try {
    const u = new URL(s);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    // not a URL at all
  }
  return ok ? s.replace(/\/+$/, '') : fail(key, 'must be an http(s) URL');
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30s", "5m", "4h", "5d", "1h30m", or a number of seconds → milliseconds. */
export function duration(v: unknown, key: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * 1000;
  const bad = () => fail(key, `must be a duration like 30s, 5m, 4h, 5d (got ${shown(v)})`);
  if (typeof v !== 'string') return bad();
  const s = v.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  return s && consumed === s.length ? total : bad();
}

// Keys a RELAIS_* variable can set arrive as strings: these checkers also read the string forms.

/** An integer (or its decimal string) between min and max. */
export function envInt(v: unknown, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? n : fail(key, `must be an integer between ${min} and ${max} (got ${shown(v)})`);
}

/** true/false, or 1/0, yes/no, on/off (and '' for false). */
export function envBool(v: unknown, key: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const w = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(w)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(w)) return false;
  }
  return fail(key, `must be true or false (got ${shown(v)})`);
}

/** A list given as a YAML sequence or a comma-separated string; absent → []. */
export function envList(v: unknown, key: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.map((x) => x.trim());
  return fail(key, `must be a list of strings (got ${shown(v)})`);
}

export interface HostPort {
  host: string;
  port: number;
}

/** "host:port", "[v6]:port", a bare IPv6 address or a host alone when there is a default port. */
export function hostPort(v: unknown, key: string, defaultPort?: number): HostPort {
  if (typeof v !== 'string' || !v.trim()) return fail(key, `must be host:port (got ${shown(v)})`);
  const s = v.trim();
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
  if (!host) return fail(key, `missing host in ${shown(s)}`);
  if (portStr === undefined) return defaultPort === undefined ? fail(key, `missing port in ${shown(s)} (expected host:port)`) : { host, port: defaultPort };
  const port = Number(portStr);
  if (!/^\d+$/.test(portStr) || port < 0 || port > 65535) return fail(key, `invalid port ${shown(portStr)}`);
  return { host, port };
}

/** A CIDR network, or one address (a /32 or /128). */
export function cidr(v: string, key: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  try {
    if (!v.includes('/')) {
      const addr = ipaddr.parse(v);
      return [addr, addr.kind() === 'ipv4' ? 32 : 128];
    }
    return ipaddr.parseCIDR(v);
  } catch {
    return fail(key, `invalid network ${shown(v)} (expected CIDR like 10.0.0.0/8)`);
  }
}

export function ip(v: string, key: string): string {
  return isIP(v) ? v : fail(key, `invalid IP address ${shown(v)}`);
}
