/**
 * Coalesces calls that arrive while others are in flight (group commit for a store): a call goes
 * at once while fewer than `maxInFlight` calls of its lane are out; the calls made meanwhile go
 * together as one batch when one returns. Under load (the last batch carried several calls), a
 * new batch also lingers `lingerMs` to gather more. Alone, a call waits for nothing; under load,
 * one round trip serves many callers, which saves the fixed cost of a request on both sides.
 * Lanes keep apart calls that must not share a batch (on Redis Cluster, keys of different slots).
 */
export type SendBatch<I, R> = (items: I[]) => Promise<R[]>;

export interface CallBatcherOptions {
  maxInFlight?: number;
  maxBatch?: number;
  /** Wait this long before sending a batch while concurrent callers are seen (0 = never). */
  lingerMs?: number;
}

interface Pending<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

interface Lane<I, R> {
  /** Calls out, a lingering batch included. */
  inFlight: number;
  queue: Pending<I, R>[];
  lastBatch: number;
}

export class CallBatcher<I, R> {
  private readonly lanes = new Map<string, Lane<I, R>>();
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  private readonly lingerMs: number;

  constructor(private readonly send: SendBatch<I, R>, opts: CallBatcherOptions = {}) {
    this.maxInFlight = opts.maxInFlight ?? 1;
    this.maxBatch = opts.maxBatch ?? 64;
    this.lingerMs = opts.lingerMs ?? 0;
  }

  submit(lane: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let l = this.lanes.get(lane);
      if (!l) {
        l = { inFlight: 0, queue: [], lastBatch: 0 };
        this.lanes.set(lane, l);
      }
      l.queue.push({ item, resolve, reject });
      if (l.inFlight >= this.maxInFlight) return;
      if (this.lingerMs > 0 && l.lastBatch > 1) {
        // Concurrent callers: hold the lane while more calls come in.
        const lingering = l;
        lingering.inFlight++;
        setTimeout(() => {
          lingering.inFlight--;
          this.flush(lane, lingering);
        }, this.lingerMs);
        return;
      }
      this.flush(lane, l);
    });
  }

  private flush(lane: string, l: Lane<I, R>): void {
    if (l.queue.length === 0) {
      // An idle lane is forgotten, unless it saw concurrent callers (it lingers next time).
      if (l.inFlight === 0 && l.lastBatch <= 1) this.lanes.delete(lane);
      return;
    }
    const batch = l.queue.splice(0, this.maxBatch);
    l.lastBatch = batch.length;
    l.inFlight++;
    let sent: Promise<R[]>;
    try {
      sent = this.send(batch.map((p) => p.item));
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (results) => batch.forEach((p, i) => p.resolve(results[i]!)),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    ).finally(() => {
      l.inFlight--;
      this.flush(lane, l);
    });
  }
}
