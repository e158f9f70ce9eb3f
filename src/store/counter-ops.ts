/** Helpers shared by both stores for counter batches and consume results. */
import type { LogOutcome } from './sliding-log.js';
import type { ConsumeResult, CounterResult, CounterOp } from './types.js';

/** The number a skip condition compares: a running sum, or a window set's size. */
export function counterValue(r: CounterResult<CounterOp> | undefined): number {
  if (typeof r === 'number') return r;
  return r && 'size' in r && typeof r.size === 'number' ? r.size : 0;
}

export function consumeResult(r: Pick<LogOutcome, 'allowed' | 'refusedIndex' | 'states'>): ConsumeResult {
  return r.allowed ? { allowed: true, states: r.states } : { allowed: false, refused: r.states[r.refusedIndex ?? 0], states: r.states };
}
