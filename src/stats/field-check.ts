/**
 * Small validators for the stats config files (providers, classification, alerts). Every error
 * names the offending key path (e.g. "providers[3].shaping.max_connections") so a typo in a YAML
 * file is found without reading code.
 */

import { ConfigError, parseDuration } from '../config/parse.js';

export type Obj = Record<string, unknown>;

export class FieldCheck {
  constructor(readonly source: string) {}

  /** Throws the config loader's ConfigError: "<file>: <key path> <problem>". */
  fail(key: string, problem: string): never {
    throw new ConfigError(this.source, `${key} ${problem}`);
  }

  obj(v: unknown, key: string): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'must be a mapping');
    return v as Obj;
  }

  arr(v: unknown, key: string): unknown[] {
    if (!Array.isArray(v)) this.fail(key, 'must be a list');
    return v;
  }

  str(v: unknown, key: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(key, 'must be a non-empty string');
    return v;
  }

  optStr(v: unknown, key: string): string | undefined {
    return v === undefined || v === null ? undefined : this.str(v, key);
  }

  bool(v: unknown, key: string, dflt: boolean): boolean {
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v;
  }

  /** Positive integer. */
  posInt(v: unknown, key: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(key, 'must be a positive integer');
    return v;
  }

  num(v: unknown, key: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.fail(key, `must be a number between ${min} and ${max}`);
    }
    return v;
  }

  /** Case-insensitive regex from a string. */
  regex(v: unknown, key: string): RegExp {
    const s = this.str(v, key);
    try {
      return new RegExp(s, 'i');
    } catch (err) {
      this.fail(key, `is not a valid regex: ${(err as Error).message}`);
    }
  }

  /** "30s", "5m", "4h", "5d" (or a number of seconds) → milliseconds. */
  duration(v: unknown, key: string): number {
    try {
      return parseDuration(key, v);
    } catch {
      this.fail(key, `must be a duration like 30s, 5m, 4h, 5d (got ${JSON.stringify(v)})`);
    }
  }

  oneOf<T extends string>(v: unknown, key: string, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(key, `must be one of ${allowed.join(', ')}`);
    return v as T;
  }

  /** Reject keys we do not know: a misspelt key silently ignored is worse than an error. */
  onlyKeys(o: Obj, key: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(key ? `${key}.${k}` : k, `is not a known key (expected one of ${allowed.join(', ')})`);
    }
  }
}
