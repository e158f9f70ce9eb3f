/**
 * Sending limits: names, levels and how the effective limits of a message are chosen.
 * Precedence, lowest first: configured defaults < tenant limits < the mailbox's entry in the
 * tenant's `mailboxes` < run-time overrides set by admins. A set's `hard: true` (or a per-limit
 * `{ limit, hard }`) makes refusals permanent (550 5.7.1) instead of 451 4.7.1.
 */

export const LIMIT_NAMES = [
  'messages_per_minute', 'messages_per_hour', 'messages_per_day',
  'recipients_per_minute', 'recipients_per_hour', 'recipients_per_day',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

export const LIMIT_LEVELS = ['mailbox', 'domain', 'tenant'] as const;
export type LimitLevel = (typeof LIMIT_LEVELS)[number];

const MINUTE = 60_000;
export const WINDOW_MS: Record<'minute' | 'hour' | 'day', number> = { minute: MINUTE, hour: 60 * MINUTE, day: 24 * 60 * MINUTE };

export interface LimitValue {
  limit: number;
  hard?: boolean;
}

/** Limits of one level: `messages_per_hour: 200` or `messages_per_hour: { limit: 200, hard: true }`. */
export type LimitSet = { [K in LimitName]?: number | LimitValue } & { hard?: boolean };
export type LevelLimits = { [L in LimitLevel]?: LimitSet };

export interface EffectiveLimit {
  level: LimitLevel;
  name: LimitName;
  unit: 'messages' | 'recipients';
  period: 'minute' | 'hour' | 'day';
  limit: number;
  windowMs: number;
  hard: boolean;
}

export function describeLimit(name: LimitName): { unit: 'messages' | 'recipients'; period: 'minute' | 'hour' | 'day' } {
  const [unit, , period] = name.split('_') as ['messages' | 'recipients', 'per', 'minute' | 'hour' | 'day'];
  return { unit, period };
}

/** Merge limit sets, later sets winning per limit; each limit keeps the hardness of its own set. */
export function mergeLimitSets(...sets: (LimitSet | undefined)[]): Map<LimitName, LimitValue> {
  const out = new Map<LimitName, LimitValue>();
  for (const set of sets) {
    if (!set) continue;
    for (const name of LIMIT_NAMES) {
      const v = set[name];
      if (v === undefined) continue;
      out.set(name, typeof v === 'number' ? { limit: v, hard: set.hard === true } : { limit: v.limit, hard: v.hard ?? set.hard === true });
    }
  }
  return out;
}

export interface LimitSources {
  defaults?: LevelLimits;
  tenant?: LevelLimits;
  /** The mailbox's own entry (tenant.mailboxes[address].limits). */
  mailbox?: LimitSet;
  /** Run-time overrides per level for this mailbox / domain / tenant. */
  overrides?: LevelLimits;
  /** Levels that apply (no tenant level for a sender outside every tenant). */
  levels?: readonly LimitLevel[];
}

export function selectLimits(src: LimitSources): EffectiveLimit[] {
  const out: EffectiveLimit[] = [];
  for (const level of src.levels ?? LIMIT_LEVELS) {
    const merged = mergeLimitSets(
      src.defaults?.[level],
      src.tenant?.[level],
      level === 'mailbox' ? src.mailbox : undefined,
      src.overrides?.[level],
    );
    for (const name of LIMIT_NAMES) {
      const v = merged.get(name);
      if (!v) continue;
      const { unit, period } = describeLimit(name);
      out.push({ level, name, unit, period, limit: v.limit, windowMs: WINDOW_MS[period], hard: v.hard === true });
    }
  }
  return out;
}

/** Units a message charges on a limit: 1 per message, or one per recipient (30 recipients count 30). */
export function costFor(limit: EffectiveLimit, recipients: number): number {
  return limit.unit === 'messages' ? 1 : recipients;
}
