/**
 * Human durations used across config files: "30s", "5m", "4h", "5d" (also "250ms", "2w").
 * Plain numbers are taken as milliseconds so computed values can be passed through unchanged.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parse a duration into milliseconds; throws a readable error on anything else. */
export function parseDuration(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) throw new Error(`invalid duration: ${s}`);
    return s;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/i.exec(s);
  if (!m) throw new Error(`invalid duration "${s}" (expected e.g. 30s, 5m, 4h, 5d)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!);
}

/** Inverse of parseDuration for messages: 1800000 → "30m". */
export function formatDuration(ms: number): string {
  for (const u of ['w', 'd', 'h', 'm', 's'] as const) {
    const n = UNIT_MS[u]!;
    if (ms >= n && ms % n === 0) return `${ms / n}${u}`;
  }
  return `${ms}ms`;
}
