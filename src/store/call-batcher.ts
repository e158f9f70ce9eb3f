/**
 * Coalesces calls that arrive while one is in flight (Nagle for a store): the first call of a
 * lane goes at once; the calls made before it returns go together as the next batch. Alone, a
 * call waits for nothing; under load, one round trip serves many callers, which saves the fixed
 * cost of a request on both sides. Lanes keep apart calls that must not share a batch (on Redis
 * Cluster, keys of different slots).
 */
export type SendBatch<I, R> = (items: I[]) => Promise<R[]>;

interface Pending<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class CallBatcher<I, R> {
  private readonly lanes = new Map<string, Pending<I, R>[]>();

  constructor(private readonly send: SendBatch<I, R>, private readonly maxBatch = 64) {}

  submit(lane: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.lanes.get(lane);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      // No call in flight on this lane: this one goes now; followers queue up behind it.
      this.lanes.set(lane, []);
      this.flush(lane, [{ item, resolve, reject }]);
    });
  }

  private flush(lane: string, batch: Pending<I, R>[]): void {
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
      const queue = this.lanes.get(lane)!;
      if (queue.length === 0) {
        this.lanes.delete(lane);
        return;
      }
      this.flush(lane, queue.splice(0, this.maxBatch));
    });
  }
}
