/**
 * Group commit for directory fsyncs. A rename or a new file is durable only once its directory
 * is fsynced; with many concurrent transactions, one fsync per directory per round serves every
 * caller that asked before the round started (per-message directory fsyncs would dominate).
 */
import { open, type FileHandle } from 'node:fs/promises';

interface Round {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newRound(): Round {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class DirSyncer {
  private running = new Map<string, Promise<void>>();
  private waiting = new Map<string, Round>();
  /** Directories stay open: an fsync is then one system call, not open + fsync + close. */
  private handles = new Map<string, Promise<FileHandle>>();

  constructor(private readonly enabled = true) {}

  /** Resolves once `dir` has been fsynced after this call was made. */
  sync(dir: string): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    let round = this.waiting.get(dir);
    if (!round) {
      round = newRound();
      this.waiting.set(dir, round);
      if (!this.running.has(dir)) this.start(dir);
    }
    return round.promise;
  }

  private start(dir: string): void {
    const round = this.waiting.get(dir);
    if (!round) return;
    this.waiting.delete(dir);
    const run = this.fsync(dir).then(round.resolve, round.reject);
    this.running.set(dir, run);
    void run.finally(() => {
      this.running.delete(dir);
      if (this.waiting.has(dir)) this.start(dir);
    });
  }

  private async fsync(dir: string): Promise<void> {
    let h = this.handles.get(dir);
    if (!h) {
      h = open(dir, 'r');
      this.handles.set(dir, h);
      h.catch(() => this.handles.delete(dir));
    }
    await (await h).sync();
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    for (const h of all) await h.then((fh) => fh.close()).catch(() => undefined);
  }
}
