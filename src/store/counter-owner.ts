/**
 * The embedded store's counters live in one process's memory (embedded-counters.ts), so one
 * process at a time may use them: the first to need them writes its pid to an owner file; a
 * second live process gets StoreUnavailableError (a tempfail, never an uncounted message).
 * Processes that only read or write documents (the CLI minting a token while the relay runs)
 * never take it. A dead owner's file is taken over.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { StoreUnavailableError } from './types.js';
import { processAlive } from '../data-dir.js';

/** Owners open in this process (a same-pid file from a closed instance is stale). */
const openHere = new Set<string>();

export class CounterOwner {
  private readonly id = `${process.pid} ${randomBytes(6).toString('hex')}`;
  private held = false;

  constructor(private readonly file: string) {}

  /** Whether this store holds the counters (then memory is their truth). */
  get owns(): boolean {
    return this.held;
  }

  /** Throws StoreUnavailableError when another live process (or open store) owns the counters. */
  acquire(): void {
    if (this.held) return;
    try {
      writeFileSync(this.file, this.id, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreUnavailableError(`counter owner file: ${(err as Error).message}`, { cause: err });
      const owner = this.readOwner();
      const pid = Number(owner.split(' ')[0]);
      const stale = !processAlive(pid) || (pid === process.pid && !openHere.has(owner));
      if (!stale) {
        throw new StoreUnavailableError(`the embedded store's counters are in use by process ${pid} (one process per data directory; nodes that share quotas need Redis)`);
      }
      writeFileSync(this.file, this.id, { mode: 0o600 });
    }
    this.held = true;
    openHere.add(this.id);
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    openHere.delete(this.id);
    try {
      if (this.readOwner() === this.id) unlinkSync(this.file);
    } catch {
      /* already gone */
    }
  }

  private readOwner(): string {
    try {
      return readFileSync(this.file, 'utf8').trim();
    } catch {
      return '';
    }
  }
}
