/**
 * The durable spool, Postfix style. Layout under <data_dir>/spool:
 *   messages/<id>.eml   message bytes as received plus Relais's added headers, then the first
 *                       envelope as a trailer once accepted (never rewritten after that)
 *   active|deferred|hold/<id>.json   envelopes after their first state change; the directory
 *                       is the queue state (a message with only its trailer is active)
 *   tmp/                envelope rewrites before their rename
 * A message is queued iff its message file ends with an envelope trailer (its first envelope:
 * see trailer.ts) or its envelope is in a state directory. Accepting a message is one file, one
 * fsync; "250 queued" is only answered after that fsync and once the file's directory entry is on
 * disk (flushed ahead for spare files, spare-files.ts). Every later state change is a new envelope file renamed into a state
 * directory (atomic). Recovery removes what was never committed.
 */
import type { EventEmitter } from 'node:events';
import { unlinkSync } from 'node:fs';
import { Readable } from 'node:stream';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BodyCache } from './body-cache.js';
import { DirSyncer } from './dir-sync.js';
import { type Envelope, type QueueState, QUEUE_STATES } from './envelope.js';
import { QueueIndex, type SpoolEvents } from './queue-index.js';
import { MessageFiles, readMessageFile, SpoolError } from './message-files.js';
import type { SpoolWriter } from './spool-writer.js';
import { readTrailer } from './trailer.js';

export interface SpoolOptions {
  dir: string;
  log: Logger;
  /** Disable fsync only for throw-away benchmarks of the rest of the pipeline. */
  fsync?: boolean;
}

export type { SpoolEvents };

/**
 * What the intake, the admin operations and Relais's own messages (DSNs, notices) need of the
 * queue: the spool itself, or, in the running relay, its client in the intake's thread while the
 * delivery thread owns the queue (spool-client.ts).
 */
export interface SpoolApi extends EventEmitter<SpoolEvents> {
  readonly root: string;
  bodyPath(id: string): string;
  createWriter(): Promise<SpoolWriter>;
  commit(writer: SpoolWriter, env: Envelope): Promise<void>;
  discard(writer: SpoolWriter): Promise<void>;
  update(env: Envelope, state?: QueueState): Promise<boolean>;
  remove(id: string): Promise<void>;
  has(id: string): boolean;
  get(id: string): Envelope | undefined;
  list(state?: QueueState): Envelope[];
  counts(): Record<QueueState, number>;
  readonly size: number;
  openBody(id: string, start?: number): Readable;
  close(): Promise<void>;
}

export { SpoolError };

export class Spool extends QueueIndex implements SpoolApi {
  /** Small messages' bytes for their first delivery (the file stays the reference). */
  private readonly bodies = new BodyCache();
  private readonly syncer: DirSyncer;
  private readonly fsyncFiles: boolean;
  private readonly files: MessageFiles;
  /** The last pending update/remove of each message: operations on one message run in order. */
  private readonly tails = new Map<string, Promise<unknown>>();
  readonly dirs: Record<'messages' | 'tmp' | QueueState, string>;

  private constructor(
    readonly root: string,
    private readonly log: Logger,
    fsync: boolean,
  ) {
    super();
    this.fsyncFiles = fsync;
    this.syncer = new DirSyncer(fsync);
    this.dirs = {
      messages: join(root, 'messages'),
      tmp: join(root, 'tmp'),
      active: join(root, 'active'),
      deferred: join(root, 'deferred'),
      hold: join(root, 'hold'),
    };
    this.files = new MessageFiles(this.dirs.messages, this.syncer, fsync, log);
  }

  /** Opens (creating if needed) and recovers the spool. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const spool = new Spool(opts.dir, opts.log, opts.fsync ?? true);
    for (const d of Object.values(spool.dirs)) await mkdir(d, { recursive: true, mode: 0o700 });
    await spool.recover();
    return spool;
  }

  bodyPath(id: string): string {
    return this.files.path(id);
  }

  private envPath(state: QueueState, id: string): string {
    return join(this.dirs[state], `${id}.json`);
  }

  /** Releases the directory handles kept for fsyncs. */
  async close(): Promise<void> {
    this.files.close();
    await this.syncer.close();
  }

  /** Starts a new message: its body file, opened exclusively. */
  createWriter(): Promise<SpoolWriter> {
    return this.files.create();
  }

  /**
   * Makes the message durable and queued. Resolves only when body, envelope and directory
   * entries are on disk; after that the caller may answer 250.
   */
  async commit(writer: SpoolWriter, env: Envelope): Promise<void> {
    this.adopt(env, await this.files.commit(writer, env));
  }

  /** Queues a message already committed to disk (by this spool, or by a writer in another thread). */
  adopt(env: Envelope, body?: Buffer): void {
    if (body) this.bodies.set(env.id, body);
    this.index.set(env.id, env);
    this.emit('queued', env);
  }

  /** Forgets a message that will not be accepted (rejected, aborted, error). */
  discard(writer: SpoolWriter): Promise<void> {
    return this.files.discard(writer);
  }

  /** Runs `fn` after every earlier update/remove of this message, and before later ones. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(id) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.tails.set(id, tail);
    void tail.then(() => {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    });
    return run;
  }

  /**
   * Persists a changed envelope, moving it to `state` when given. The new version is written
   * and fsynced in tmp/, then renamed over the old one: a crash leaves one of the two.
   * Updates and removals of one message are serialised, and a removed message is never written
   * back: a delivery attempt that ends after an admin DELETE gets false and must stop there.
   */
  update(env: Envelope, state?: QueueState): Promise<boolean> {
    return this.serial(env.id, async () => {
      if (!this.index.has(env.id)) return false;
      const from = env.state;
      // A hold set by another operation while this one waited (an admin's, during a delivery
      // attempt that then asks for "deferred") stays: only a release, which clears the reason
      // first, takes a message out of hold.
      const to = from === 'hold' && env.holdReason !== undefined ? 'hold' : (state ?? from);
      const next: Envelope = { ...env, state: to, rev: env.rev + 1 };
      const tmp = join(this.dirs.tmp, `${env.id}.${next.rev}.json`);
      try {
        await this.writeDurable(tmp, next);
        await rename(tmp, this.envPath(to, env.id));
      } catch (err) {
        // Disk full while writing: the old version stays the truth, nothing half-written is left.
        await rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
      const hadFile = env.rev > 1;
      if (to !== from && hadFile) await unlink(this.envPath(from, env.id)).catch(() => undefined);
      await Promise.all([this.syncer.sync(this.dirs[to]), to !== from && hadFile ? this.syncer.sync(this.dirs[from]) : undefined]);
      // Only what this write changed: fields another operation set meanwhile (a hold reason set
      // while an attempt's update was being written) are newer than this snapshot and stay.
      env.state = to;
      env.rev = next.rev;
      this.index.set(env.id, env);
      if (to !== from) this.log.info({ queueId: env.id, from, to, reason: env.holdReason }, `queue: ${to}`);
      this.emit('changed', env, to !== from ? from : null);
      return true;
    });
  }

  /**
   * Removes a finished message: the body first (its trailer could otherwise bring the message
   * back after a crash), then the envelope; an envelope without body is dropped at recovery.
   * Removal is not forced to disk when there is no envelope file (most messages, delivered at
   * their first attempt), as Postfix's qmgr does not: a process crash cannot undo an unlink, and
   * after a power cut the worst case is one more delivery of that message, never a loss. A
   * directory fsync per delivered message (even shared) was one more disk flush competing with
   * the commits that the intake's clients wait on.
   */
  remove(id: string): Promise<void> {
    return this.serial(id, async () => {
      const env = this.index.get(id) ?? (await this.load(id));
      if (!env) return;
      this.bodies.delete(id);
      // unlink() on this thread: microseconds of the kernel's time, less than a thread-pool round
      // trip (two thread wake-ups) for each delivered message.
      unlinkQuietly(this.bodyPath(id), true);
      // rev 1 lives only in the trailer: there is no envelope file to remove. Otherwise the body's
      // removal must be on disk first, or a crash could leave the body's older trailer alone.
      if (env.rev > 1) {
        await this.syncer.sync(this.dirs.messages);
        unlinkQuietly(this.envPath(env.state, id), false);
      }
      this.index.delete(id);
      this.log.info({ queueId: id }, 'queue: removed');
      this.emit('removed', id);
    });
  }

  /** The whole message when it is in the body cache (small, recently committed). */
  cachedBody(id: string): Buffer | undefined {
    return this.bodies.get(id);
  }

  /** The message bytes (without the envelope trailer). */
  openBody(id: string, start = 0): Readable {
    const cached = this.bodies.get(id);
    if (cached) return Readable.from([cached.subarray(start)], { objectMode: false });
    return readMessageFile(this.bodyPath(id), this.index.get(id)?.size, start);
  }

  private async writeDurable(path: string, env: Envelope): Promise<void> {
    const fh = await open(path, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(env));
      if (this.fsyncFiles) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Reads an envelope from disk (any state), without touching the index. */
  async load(id: string): Promise<Envelope | null> {
    let best: Envelope | null = null;
    for (const state of QUEUE_STATES) {
      const env = await readEnvelope(this.envPath(state, id));
      if (env && (!best || env.rev > best.rev)) best = { ...env, state };
    }
    return best;
  }

  /**
   * Crash recovery: drop temp files and torn envelope files, keep the newest copy of an envelope
   * present in two states, drop envelopes whose body is gone (finished messages), take the
   * trailer of bodies without an envelope file, and delete bodies without either (mail that was
   * being received and never acknowledged).
   */
  private async recover(): Promise<void> {
    for (const dir of [this.dirs.tmp]) {
      for (const f of await readdir(dir)) await rm(join(dir, f), { force: true });
    }
    const found = new Map<string, Envelope>();
    for (const state of QUEUE_STATES) {
      for (const f of await readdir(this.dirs[state])) {
        if (!f.endsWith('.json')) continue;
        const path = join(this.dirs[state], f);
        const env = await readEnvelope(path);
        if (!env) {
          // A first envelope written just before a crash; the message's trailer has it.
          await unlink(path).catch(() => undefined);
          continue;
        }
        env.state = state;
        const prev = found.get(env.id);
        if (prev && prev.rev >= env.rev) {
          await unlink(path);
          continue;
        }
        if (prev) await unlink(this.envPath(prev.state, prev.id));
        found.set(env.id, env);
      }
    }
    for (const env of found.values()) {
      const ok = await stat(this.bodyPath(env.id)).then(
        () => true,
        () => false,
      );
      if (!ok) {
        this.log.warn({ queueId: env.id }, 'spool: envelope without body dropped (never acknowledged)');
        await unlink(this.envPath(env.state, env.id));
        found.delete(env.id);
      }
    }
    let orphans = 0;
    let spares = 0;
    let rebuilt = 0;
    for (const f of await readdir(this.dirs.messages)) {
      const id = f.replace(/\.eml$/, '');
      if (found.has(id)) continue;
      const path = join(this.dirs.messages, f);
      const env = await readTrailer(path);
      if (env && env.id === id) {
        found.set(id, env);
        rebuilt++;
        continue;
      }
      // Empty: a spare file made ahead (spare-files.ts), not a message cut short.
      const empty = (await stat(path).catch(() => undefined))?.size === 0;
      await rm(path, { force: true });
      if (empty) spares++;
      else orphans++;
    }
    for (const env of found.values()) this.index.set(env.id, env);
    this.log.info({ queued: found.size, fromTrailer: rebuilt, orphansRemoved: orphans, emptyRemoved: spares, ...this.counts() }, 'spool recovered');
  }
}

/** Removes a file; a missing one is fine. `strict`: any other error is thrown. */
function unlinkQuietly(path: string, strict: boolean): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (strict && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function readEnvelope(path: string): Promise<Envelope | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Envelope;
  } catch {
    return null;
  }
}
