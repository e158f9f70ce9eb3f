/**
 * Counters of one id (provider, sender, ...) summed over buckets, decoded from the
 * "<id>|<metric>" hash fields written by the recorder.
 */
import { M, splitField } from './buckets.js';

export interface Counters {
  delivered: number;
  deferred: number;
  bounced: number;
  bouncedSoft: number;
  latencyMs: number;
  latencyN: number;
  /** "deferred:<reason>" / "bounced:<reason>" → count. */
  reasons: Record<string, number>;
  /** "<action>" or "<action>:<reason>" → count. */
  verdicts: Record<string, number>;
}

export function emptyCounters(): Counters {
  return { delivered: 0, deferred: 0, bounced: 0, bouncedSoft: 0, latencyMs: 0, latencyN: 0, reasons: {}, verdicts: {} };
}

function addMetric(c: Counters, metric: string, n: number): void {
  switch (metric) {
    case M.delivered: c.delivered += n; return;
    case M.deferred: c.deferred += n; return;
    case M.bounced: c.bounced += n; return;
    case M.bouncedSoft: c.bouncedSoft += n; return;
    case M.latencyMs: c.latencyMs += n; return;
    case M.latencyN: c.latencyN += n; return;
  }
  if (metric.startsWith('verdict:')) {
    const k = metric.slice(8);
    c.verdicts[k] = (c.verdicts[k] ?? 0) + n;
  } else if (metric.startsWith('deferred:') || metric.startsWith('bounced:')) {
    c.reasons[metric] = (c.reasons[metric] ?? 0) + n;
  }
}

export function mergeInto(target: Counters, src: Counters): void {
  for (const k of ['delivered', 'deferred', 'bounced', 'bouncedSoft', 'latencyMs', 'latencyN'] as const) target[k] += src[k];
  for (const [k, n] of Object.entries(src.reasons)) target.reasons[k] = (target.reasons[k] ?? 0) + n;
  for (const [k, n] of Object.entries(src.verdicts)) target.verdicts[k] = (target.verdicts[k] ?? 0) + n;
}

export function parseHash(h: Record<string, number>, into: Map<string, Counters>, onlyId?: string): void {
  for (const [f, n] of Object.entries(h)) {
    const parts = splitField(f);
    if (!parts || (onlyId !== undefined && parts[0] !== onlyId)) continue;
    let c = into.get(parts[0]);
    if (!c) into.set(parts[0], (c = emptyCounters()));
    addMetric(c, parts[1], n);
  }
}
