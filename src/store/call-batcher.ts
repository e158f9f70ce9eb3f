/**
 * Coalesces calls that arrive while others are in flight (Nagle for a store): a call goes at
 * once while fewer than `maxInFlight` calls of its lane are out; the calls made meanwhile go
 * together as one batch when one returns. Alone, a call waits for nothing; under load, one round
 * trip serves many callers, which saves the fixed cost of a request on both sides. Lanes keep
 * apart calls that must not share a batch (on Redis Cluster, keys of different slots).
 */
export type SendBatch<I, R> = (items: I[]) => Promise<R[]>;

interface Pending<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

interface Lane<I, R> {
  inFlight: number;
  queue: Pending<I, R>[];
}

export class CallBatcher<I, R> {
  private readonly lanes = new Map<string, Lane<I, R>>();

  constructor(private readonly send: SendBatch<I, R>, private readonly maxInFlight = 1, private readonly maxBatch = 64) {}

  submit(lane: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let l = this.lanes.get(lane);
      if (!l) {
        l = { inFlight: 0, queue: [] };
        this.lanes.set(lane, l);
      }
      l.queue.push({ item, resolve, reject });
      if (l.inFlight < this.maxInFlight) this.flush(lane, l);
    });
  }

  private flush(lane: string, l: Lane<I, R>): void {
    if (l.queue.length === 0) {
      if (l.inFlight === 0) this.lanes.delete(lane);
      return;
    }
    const batch = l.queue.splice(0, this.maxBatch);
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
