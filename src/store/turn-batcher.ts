/**
 * Coalesces the calls made during one event-loop turn into batched calls, like a group commit:
 * under load the SMTP transactions finishing together share one store round trip (one Redis
 * script run, one socket write, one reply) instead of paying for one each. Calls in different
 * groups (Redis Cluster slots) go in different batches. A failed batch fails each of its calls.
 */
interface Pending<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class TurnBatcher<I, R> {
  private queue: Pending<I, R>[] = [];

  constructor(
    private readonly run: (items: I[]) => Promise<R[]>,
    private readonly groupOf: (item: I) => string = () => '',
    private readonly maxBatch = 64,
  ) {}

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.queue.push({ item, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const queue = this.queue;
    this.queue = [];
    const groups = new Map<string, Pending<I, R>[]>();
    for (const p of queue) {
      const g = this.groupOf(p.item);
      let list = groups.get(g);
      if (!list) groups.set(g, (list = []));
      list.push(p);
    }
    for (const list of groups.values()) {
      for (let i = 0; i < list.length; i += this.maxBatch) {
        const batch = list.slice(i, i + this.maxBatch);
        this.run(batch.map((p) => p.item)).then(
          (results) => batch.forEach((p, k) => p.resolve(results[k]!)),
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        );
      }
    }
  }
}
