/** Verdict counters: hourly hash buckets "stats:verdicts:<YYYYMMDDHH>" (UTC), field "<tenant>|<mailbox>|<action>|<reason>". */
import type { Store } from '../../src/store/types.js';
import { hourKey } from '../guard.js';
import type { Verdict } from '../types.js';

export const VERDICT_STATS_PREFIX = 'stats:verdicts:';

export function verdictStatsKey(now: number): string {
  return VERDICT_STATS_PREFIX + hourKey(now);
}

export function verdictStatsField(v: Verdict): string {
  const clean = (s: string | undefined, empty: string): string => (s ? s.replace(/\|/g, '_') : empty);
  return `${clean(v.tenant, '-')}|${clean(v.mailbox, '<>')}|${v.action}|${clean(v.reason, '-')}`;
}

/** Count a verdict; a store failure only loses the count (the decision stands). */
export async function recordVerdict(store: Store, v: Verdict, now: number, ttlDays: number): Promise<void> {
  await store.hincr(verdictStatsKey(now), { [verdictStatsField(v)]: 1 }, ttlDays * 86_400_000).catch(() => undefined);
}
