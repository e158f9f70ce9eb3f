/**
 * Spool files made ahead, in batches, while messages arrive quickly. A new message needs its file
 * and that file's directory entry on disk before its 250: made one by one, that is one directory
 * fsync (a disk flush) per message on top of the message's own fdatasync, and at a few hundred
 * messages a second concurrent commits rarely share it. Made ahead, a batch of files shares one
 * directory fsync, and their creation runs on libuv's pool instead of the intake's thread.
 *
 * A spare is an empty file named after a queue id: recovery removes it like any file without a
 * trailer (never committed). Spares are made only while messages come faster than one every
 * BUSY_MS (a quiet relay creates files one by one, as before), and a spare older than MAX_AGE_MS
 * is thrown away rather than used: queue ids keep sorting by arrival, within seconds.
 */
import { close, closeSync, open, unlink, unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import type { DirSyncer } from './dir-sync.js';
import { newQueueId } from './queue-id.js';

export interface Spare {
  id: string;
  fd: number;
}

const BATCH = 32;
const BUSY_MS = 100;
const MAX_AGE_MS = 10_000;

export class SpareFiles {
  private spares: Array<Spare & { at: number }> = [];
  private refilling = false;
  private closed = false;
  private lastAsk = 0;

  constructor(
    private readonly dir: string,
    private readonly path: (id: string) => string,
    private readonly syncer: DirSyncer,
    private readonly log: Logger,
  ) {}

  /** A file whose directory entry is already on disk, or undefined (make one now). */
  take(now = Date.now()): Spare | undefined {
    const busy = now - this.lastAsk < BUSY_MS;
    this.lastAsk = now;
    while (this.spares.length && now - this.spares[0]!.at > MAX_AGE_MS) this.drop(this.spares.shift()!);
    const spare = this.spares.shift();
    if (busy && this.spares.length <= (BATCH * 3) / 4) this.refill();
    return spare && { id: spare.id, fd: spare.fd };
  }

  /** How many are ready (for tests and metrics). */
  get size(): number {
    return this.spares.length;
  }

  private refill(): void {
    if (this.refilling || this.closed) return;
    this.refilling = true;
    const made: Spare[] = [];
    // Two opens at a time, from three quarters of a stock: the opens wait in libuv's pool behind
    // the commits' fsyncs and the signatures, and one at a time, from half a stock, was too slow
    // to keep a stock at a few hundred messages a second (a message without a spare makes its
    // file on the intake's thread). A whole batch queued at once would hold up the fsyncs that
    // clients wait on; a refill of at least a quarter batch keeps directory fsyncs to one per 8
    // messages at most.
    const openOne = (): Promise<boolean> =>
      new Promise<boolean>((resolve) => {
        const id = newQueueId();
        open(this.path(id), 'wx', 0o600, (err, fd) => {
          if (!err) made.push({ id, fd });
          resolve(!err);
        });
      });
    // The first failure (disk full, out of descriptors) ends the batch: the intake then creates
    // its files one by one and reports their errors itself.
    let opening = 0;
    let failed = false;
    // Up to one batch in stock, counting the files made and being made (those taken meanwhile are
    // made up); made + opening < BATCH also bounds one refill to one batch.
    const lane = async () => {
      while (!failed && !this.closed && this.spares.length + made.length + opening < BATCH) {
        opening++;
        if (!(await openOne())) failed = true;
        opening--;
      }
    };
    const opens = Promise.all([lane(), lane()]);
    void opens
      .then(() => this.syncer.sync(this.dir))
      .then(
        () => {
          const at = Date.now();
          // Ids in time order: the intake takes the oldest first.
          made.sort((a, b) => (a.id < b.id ? -1 : 1));
          if (this.closed) made.forEach((s) => this.drop(s));
          else this.spares.push(...made.map((s) => ({ ...s, at })));
        },
        (err: Error) => {
          this.log.warn({ err: err.message }, 'spool: could not make spare files');
          made.forEach((s) => this.drop(s));
        },
      )
      .finally(() => {
        this.refilling = false;
      });
  }

  private drop(s: Spare): void {
    close(s.fd, () => unlink(this.path(s.id), () => undefined));
  }

  /** Closes and removes the spares left (at shutdown). */
  close(): void {
    this.closed = true;
    for (const s of this.spares) {
      try {
        closeSync(s.fd);
        unlinkSync(this.path(s.id));
      } catch {
        /* recovery removes it at the next start */
      }
    }
    this.spares = [];
  }
}
