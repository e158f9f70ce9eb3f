/**
 * The spool as seen from the intake's thread while another thread owns the queue (Postfix's
 * cleanup and qmgr: the receiver writes the message file, the queue manager owns it from then
 * on). New messages are written and committed here, then handed over; every later change
 * (admin hold, release, retry, delete) is asked of the owner, the only one that renames
 * envelopes and removes files, so queue operations on one message stay serialised
 * (spool.ts `serial`). Reads (admin API, metrics) come from a copy of the owner's index that
 * the owner keeps current with its change events.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DirSyncer } from './dir-sync.js';
import type { Envelope, QueueState } from './envelope.js';
import { MessageFiles, readMessageFile } from './message-files.js';
import { QueueIndex } from './queue-index.js';
import type { SpoolApi } from './spool.js';
import type { SpoolWriter } from './spool-writer.js';

/** The fields an admin operation may change (relay/spool/queue-ops.ts): nothing else crosses. */
export const ADMIN_FIELDS = ['holdReason', 'nextAttemptAt', 'notBefore'] as const;
export type AdminPatch = Partial<Pick<Envelope, (typeof ADMIN_FIELDS)[number]>>;

/** The thread that owns the queue, as the client reaches it. */
export interface QueueOwner {
  /** A message committed here: the owner queues it (`body`: small messages' bytes). */
  queued(env: Envelope, body: Buffer | undefined): void;
  /** Applies an admin patch and state; the envelope as written, or null when no longer queued. */
  update(id: string, patch: AdminPatch, state: QueueState | undefined): Promise<Envelope | null>;
  remove(id: string): Promise<void>;
}

/** What the owner reports: new messages of its own (DSNs), changed envelopes, removals. */
export interface QueueChanges {
  added: Envelope[];
  changed: Envelope[];
  removed: string[];
}

export class SpoolClient extends QueueIndex implements SpoolApi {
  private readonly files: MessageFiles;
  private readonly syncer: DirSyncer;

  constructor(
    readonly root: string,
    private readonly owner: QueueOwner,
    log: Logger,
    fsync = true,
  ) {
    super();
    this.syncer = new DirSyncer(fsync);
    this.files = new MessageFiles(join(root, 'messages'), this.syncer, fsync, log);
  }

  /** The owner's index when it opened the spool (after its recovery). */
  load(envelopes: Envelope[]): void {
    for (const e of envelopes) this.index.set(e.id, e);
  }

  /** The owner's changes, in the order it made them. */
  apply(c: QueueChanges): void {
    for (const e of c.added) {
      if (this.index.has(e.id)) continue;
      this.index.set(e.id, e);
      this.emit('queued', e);
    }
    for (const e of c.changed) this.upsert(e);
    for (const id of c.removed) {
      if (this.index.delete(id)) this.emit('removed', id);
    }
  }

  /** Keeps the newest version: an answer to an update may arrive before an older change event. */
  private upsert(e: Envelope): void {
    const current = this.index.get(e.id);
    if (!current || current.rev > e.rev) return;
    const from = current.state;
    this.index.set(e.id, e);
    this.emit('changed', e, from !== e.state ? from : null);
  }

  bodyPath(id: string): string {
    return this.files.path(id);
  }

  createWriter(): Promise<SpoolWriter> {
    return this.files.create();
  }

  async commit(writer: SpoolWriter, env: Envelope): Promise<void> {
    const body = await this.files.commit(writer, env);
    this.index.set(env.id, env);
    // Durable on disk: from here the owner has it (a crash now is recovered from the trailer).
    this.owner.queued(env, body);
    this.emit('queued', env);
  }

  discard(writer: SpoolWriter): Promise<void> {
    return this.files.discard(writer);
  }

  async update(env: Envelope, state?: QueueState): Promise<boolean> {
    const patch: AdminPatch = {};
    for (const k of ADMIN_FIELDS) (patch as Record<string, unknown>)[k] = env[k];
    const next = await this.owner.update(env.id, patch, state);
    if (!next) return false;
    this.upsert(next);
    return true;
  }

  async remove(id: string): Promise<void> {
    await this.owner.remove(id);
    if (this.index.delete(id)) this.emit('removed', id);
  }

  /** The message bytes (without the trailer), from its file. */
  openBody(id: string, start = 0): Readable {
    return readMessageFile(this.bodyPath(id), this.index.get(id)?.size, start);
  }

  async close(): Promise<void> {
    this.files.close();
    await this.syncer.close();
  }
}
