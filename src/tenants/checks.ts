/**
 * Small validation kit: collects every problem with the key path it concerns, e.g.
 * "tenants[2].limits.mailbox.messages_per_hour: must be a positive integer".
 */
import { substituteEnv, MissingEnvError } from './env.js';
import { LIMIT_LEVELS, LIMIT_NAMES, type LevelLimits, type LimitSet } from '../../policies/limits.js';
import { BULK_ACTIONS, type BulkPolicy } from '../../policies/bulk.js';
import type { GuardPolicy } from '../../policies/guard.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): undefined {
    this.list.push(`${path}: ${message}`);
    return undefined;
  }
  throwIfAny(): void {
    if (this.list.length) throw new ConfigError(this.list);
  }
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Copy of a parsed YAML value with ${VAR} substituted in every string. */
export function substituteDeep(v: unknown, path: string, p: Problems, env: NodeJS.ProcessEnv): unknown {
  if (typeof v === 'string') {
    try {
      return substituteEnv(v, env);
    } catch (err) {
      if (err instanceof MissingEnvError) return p.add(path, err.message) ?? v;
      throw err;
    }
  }
  if (Array.isArray(v)) return v.map((x, i) => substituteDeep(x, `${path}[${i}]`, p, env));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substituteDeep(x, `${path}.${k}`, p, env)]));
  return v;
}

export function object(v: unknown, path: string, p: Problems, allowed: readonly string[]): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) return p.add(path, 'must be a mapping');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) p.add(`${path}.${k}`, `unknown key (expected one of: ${allowed.join(', ')})`);
  return v;
}

export function posInt(v: unknown, path: string, p: Problems): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) return p.add(path, 'must be a positive integer');
  return v;
}

export function posNumber(v: unknown, path: string, p: Problems): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return p.add(path, 'must be a positive number');
  return v;
}

export function bool(v: unknown, path: string, p: Problems): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') return p.add(path, 'must be true or false');
  return v;
}

export function str(v: unknown, path: string, p: Problems, required = false): string | undefined {
  if (v === undefined || v === null || v === '') return required ? p.add(path, 'is required') : undefined;
  if (typeof v !== 'string') return p.add(path, 'must be a string');
  return v;
}

export function strList(v: unknown, path: string, p: Problems): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !x)) return p.add(path, 'must be a list of strings');
  return v as string[];
}

export function url(v: unknown, path: string, p: Problems, required = false): string | undefined {
  const s = str(v, path, p, required);
  if (s === undefined) return undefined;
  try {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return p.add(path, 'must be an http(s) URL');
  } catch {
    return p.add(path, 'must be an http(s) URL');
  }
  return s.replace(/\/+$/, '');
}

export function limitSet(v: unknown, path: string, p: Problems): LimitSet | undefined {
  const o = object(v, path, p, [...LIMIT_NAMES, 'hard']);
  if (!o) return undefined;
  const out: LimitSet = {};
  for (const name of LIMIT_NAMES) {
    const x = o[name];
    if (x === undefined) continue;
    if (isObj(x)) {
      const lo = object(x, `${path}.${name}`, p, ['limit', 'hard']);
      const limit = posInt(lo?.limit, `${path}.${name}.limit`, p) ?? (lo?.limit === undefined ? p.add(`${path}.${name}.limit`, 'is required') : undefined);
      const hard = bool(lo?.hard, `${path}.${name}.hard`, p);
      if (limit !== undefined) out[name] = hard === undefined ? { limit } : { limit, hard };
    } else {
      const limit = posInt(x, `${path}.${name}`, p);
      if (limit !== undefined) out[name] = limit;
    }
  }
  const hard = bool(o.hard, `${path}.hard`, p);
  if (hard !== undefined) out.hard = hard;
  return out;
}

export function levelLimits(v: unknown, path: string, p: Problems): LevelLimits {
  const o = object(v, path, p, LIMIT_LEVELS);
  const out: LevelLimits = {};
  for (const level of LIMIT_LEVELS) {
    const s = limitSet(o?.[level], `${path}.${level}`, p);
    if (s) out[level] = s;
  }
  return out;
}

const BULK_KEYS = ['recipients_per_message', 'distinct_recipients_per_day', 'fingerprint_recipients', 'fingerprint_window_minutes', 'split_window_minutes', 'newsletter_headers', 'action'] as const;

export function bulkPolicy(v: unknown, path: string, p: Problems): Partial<BulkPolicy> {
  const o = object(v, path, p, BULK_KEYS);
  const out: Partial<BulkPolicy> = {};
  if (!o) return out;
  for (const k of ['recipients_per_message', 'distinct_recipients_per_day', 'fingerprint_recipients', 'fingerprint_window_minutes', 'split_window_minutes'] as const) {
    const n = posInt(o[k], `${path}.${k}`, p);
    if (n !== undefined) out[k] = n;
  }
  const nh = bool(o.newsletter_headers, `${path}.newsletter_headers`, p);
  if (nh !== undefined) out.newsletter_headers = nh;
  if (o.action !== undefined) {
    if (!BULK_ACTIONS.includes(o.action as BulkPolicy['action'])) p.add(`${path}.action`, `must be one of ${BULK_ACTIONS.join('|')}`);
    else out.action = o.action as BulkPolicy['action'];
  }
  return out;
}

const GUARD_KEYS = ['enabled', 'volume_factor', 'min_hourly', 'history_days', 'new_domains_per_hour', 'min_known_domains', 'notify'] as const;

export function guardPolicy(v: unknown, path: string, p: Problems): Partial<GuardPolicy> {
  const o = object(v, path, p, GUARD_KEYS);
  const out: Partial<GuardPolicy> = {};
  if (!o) return out;
  const enabled = bool(o.enabled, `${path}.enabled`, p);
  if (enabled !== undefined) out.enabled = enabled;
  const factor = posNumber(o.volume_factor, `${path}.volume_factor`, p);
  if (factor !== undefined) out.volume_factor = factor;
  for (const k of ['min_hourly', 'history_days', 'new_domains_per_hour', 'min_known_domains'] as const) {
    const n = posInt(o[k], `${path}.${k}`, p);
    if (n !== undefined) out[k] = n;
  }
  const notify = strList(o.notify, `${path}.notify`, p);
  if (notify) {
    notify.forEach((a, i) => { if (!/^[^@\s]+@[^@\s]+$/.test(a)) p.add(`${path}.notify[${i}]`, 'must be an email address'); });
    out.notify = notify;
  }
  return out;
}
