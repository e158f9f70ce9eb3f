/**
 * A durable outbox in the shared store: jobs survive restarts and Listmonk outages, are retried
 * with exponential back-off while the failure is temporary, stop as `failed` (with the reason and
 * the fix, kept until an admin retries or drops them) when it is permanent (errors.ts), and are
 * deleted only after their handler succeeded. Each job id is
 * accepted once (an idempotency key remembered for `dedupeTtlMs`), and a per-job lock in the store
 * keeps two Relais nodes from running the same job at the same time. A "done" marker is written
 * before the job is deleted, so a crash between the two never runs the handler again.
 */
import { hostname } from 'node:os';
import type { Store } from '../src/store/types.js';
import { fixFor, isPermanent, type Fix } from './errors.js';

export interface OutboxJob<P> {
  id: string;
  payload: P;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  lastAttemptAt?: number;
  lastError?: string;
  /** Set when the job stopped on a permanent failure; it is not run again until retry(). */
  failed?: { at: number; reason: string; fix: Fix };
}

export interface OutboxOptions {
  now?: () => number;
  /** First retry delay, doubled per attempt (default 5 s), capped at maxBackoffMs (default 15 min). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How long an accepted job id is remembered (default 30 days). */
  dedupeTtlMs?: number;
  /** Lock lifetime; longer than any handler run (default 10 min). */
  lockTtlMs?: number;
}

/** Thrown by a handler to leave a job untouched (not its turn, e.g. its file lives on another node). */
export class SkipJob extends Error {}

export interface RunResult {
  done: number;
  failed: number;
  /** Of the failed, those stopped on a permanent failure (not retried until an admin does). */
  stopped: number;
  skipped: number;
}

export class Outbox<P> {
  readonly node = `${hostname()}:${process.pid}`;
  private readonly now: () => number;
  private readonly o: Required<Omit<OutboxOptions, 'now'>>;

  constructor(private readonly store: Store, readonly ns: string, opts: OutboxOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.o = {
      backoffMs: opts.backoffMs ?? 5_000,
      maxBackoffMs: opts.maxBackoffMs ?? 15 * 60_000,
      dedupeTtlMs: opts.dedupeTtlMs ?? 30 * 86_400_000,
      lockTtlMs: opts.lockTtlMs ?? 10 * 60_000,
    };
  }

  private key(kind: 'seen' | 'done' | 'lock', id: string): string {
    return `outbox:${this.ns}:${kind}:${id}`;
  }

  /** Adds a job unless this id was already accepted; returns false for a duplicate. */
  async add(id: string, payload: P): Promise<boolean> {
    const existing = await this.store.setIfAbsent(this.key('seen', id), String(this.now()), this.o.dedupeTtlMs);
    if (existing !== null) return false;
    await this.put({ id, payload, attempts: 0, createdAt: this.now(), nextAttemptAt: this.now() });
    return true;
  }

  /** Re-creates a job whose id was accepted but whose document is missing (crash between the two writes). */
  async repair(id: string, payload: P): Promise<boolean> {
    if ((await this.get(id)) || (await this.store.getValue(this.key('done', id)))) return false;
    await this.put({ id, payload, attempts: 0, createdAt: this.now(), nextAttemptAt: this.now() });
    return true;
  }

  get(id: string): Promise<OutboxJob<P> | null> {
    return this.store.getDoc<OutboxJob<P>>(this.ns, id);
  }

  put(job: OutboxJob<P>): Promise<void> {
    return this.store.putDoc(this.ns, job.id, job);
  }

  async list(): Promise<OutboxJob<P>[]> {
    return (await this.store.listDocs<OutboxJob<P>>(this.ns)).map((d) => d.value).sort((a, b) => a.createdAt - b.createdAt);
  }

  async isDone(id: string): Promise<boolean> {
    return (await this.store.getValue(this.key('done', id))) !== null;
  }

  /** Runs every due job once, one at a time. A handler may update the job's payload as it progresses. */
  async runDue(handler: (job: OutboxJob<P>, save: (payload: P) => Promise<void>) => Promise<void>): Promise<RunResult> {
    const r: RunResult = { done: 0, failed: 0, stopped: 0, skipped: 0 };
    for (const listed of await this.list()) {
      if (listed.failed || listed.nextAttemptAt > this.now()) continue;
      const lockKey = this.key('lock', listed.id);
      if ((await this.store.setIfAbsent(lockKey, this.node, this.o.lockTtlMs)) !== null) {
        r.skipped++;
        continue;
      }
      try {
        const job = await this.get(listed.id); // another node may have finished it meanwhile
        if (!job || job.failed) continue;
        if (await this.isDone(job.id)) {
          await this.store.deleteDoc(this.ns, job.id);
          continue;
        }
        try {
          await handler(job, async (payload) => {
            job.payload = payload;
            await this.put(job);
          });
        } catch (err) {
          if (err instanceof SkipJob) {
            r.skipped++;
            continue;
          }
          job.attempts++;
          job.lastAttemptAt = this.now();
          job.lastError = err instanceof Error ? err.message : String(err);
          if (isPermanent(err)) {
            job.failed = { at: this.now(), reason: job.lastError, fix: fixFor(err) };
            r.stopped++;
          } else job.nextAttemptAt = this.now() + Math.min(this.o.backoffMs * 2 ** (job.attempts - 1), this.o.maxBackoffMs);
          await this.put(job);
          r.failed++;
          continue;
        }
        await this.store.setValue(this.key('done', job.id), String(this.now()), this.o.dedupeTtlMs);
        await this.store.deleteDoc(this.ns, job.id);
        r.done++;
      } finally {
        await this.store.deleteValue(lockKey).catch(() => undefined);
      }
    }
    return r;
  }

  /** Runs a job again soon (after an admin fixed the cause): clears its failure and back-off.
   * Returns false when there is no such job (done, dropped or never queued). */
  async retry(id: string): Promise<boolean> {
    const job = await this.get(id);
    if (!job) return false;
    delete job.failed;
    job.attempts = 0;
    job.nextAttemptAt = this.now();
    await this.put(job);
    return true;
  }

  /** Drops a job for good (admin action, or a job past its maximum age). */
  async drop(id: string): Promise<void> {
    await this.store.deleteDoc(this.ns, id);
  }
}

export interface Worker {
  start(): void;
  stop(): Promise<void>;
  /** Runs due jobs now (tests, admin "retry now"). */
  runOnce(): Promise<RunResult>;
  /** Asks the running loop to look at the outbox soon. */
  kick(): void;
}

/** A polling loop around a run function; never overlaps runs. */
export function createLoop(run: () => Promise<RunResult>, pollMs: number, onError: (err: unknown) => void): Worker {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<RunResult> | null = null;
  let started = false;
  const once = (): Promise<RunResult> => {
    if (!running) {
      running = run().finally(() => {
        running = null;
      });
    }
    return running;
  };
  const tick = () => {
    timer = null;
    once()
      .catch(onError)
      .finally(() => {
        if (started && !timer) timer = setTimeout(tick, pollMs);
      });
  };
  return {
    start() {
      if (started) return;
      started = true;
      timer = setTimeout(tick, 0);
    },
    async stop() {
      started = false;
      if (timer) clearTimeout(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
    runOnce: once,
    kick() {
      if (!started) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(tick, 0);
    },
  };
}
