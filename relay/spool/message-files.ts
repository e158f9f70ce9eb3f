/**
 * Writing new messages into `messages/`: create the file exclusively, stream into it, commit
 * (trailer, fsync of the file, its directory entry flushed) or discard. Whoever receives a
 * message writes its file; the queue's owner (spool.ts) takes it from there. Both the owner and
 * a writer in another thread (spool-client.ts) use this, so a message is committed one way.
 */
import { createReadStream, openSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DirSyncer } from './dir-sync.js';
import type { Envelope } from './envelope.js';
import { newQueueId } from './queue-id.js';
import { SpareFiles } from './spare-files.js';
import { SpoolWriter } from './spool-writer.js';
import { encodeTrailer } from './trailer.js';

export class SpoolError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SpoolError';
  }
}

export class MessageFiles {
  private readonly spares: SpareFiles;

  constructor(
    readonly dir: string,
    private readonly syncer: DirSyncer,
    private readonly fsync: boolean,
    private readonly log: Logger,
  ) {
    this.spares = new SpareFiles(dir, (id) => this.path(id), syncer, log);
  }

  path(id: string): string {
    return join(this.dir, `${id}.eml`);
  }

  /**
   * Starts a new message: its body file, a spare made ahead (spare-files.ts) while messages come
   * quickly, else one opened exclusively now. That open() and the close() are made on the calling
   * thread: a few microseconds of the kernel's time, less than the two thread wake-ups of a
   * thread-pool round trip.
   */
  async create(): Promise<SpoolWriter> {
    const spare = this.spares.take();
    // Its directory entry is on disk already (entrySynced stays resolved).
    if (spare) return new SpoolWriter(spare.id, this.path(spare.id), spare.fd);
    const id = newQueueId();
    const path = this.path(id);
    try {
      const w = new SpoolWriter(id, path, openSync(path, 'wx', 0o600));
      // The new directory entry is flushed while DATA streams in; commit waits for it.
      w.entrySynced = this.syncer.sync(this.dir);
      w.entrySynced.catch(() => undefined);
      return w;
    } catch (err) {
      throw new SpoolError(`cannot create ${path}`, (err as NodeJS.ErrnoException).code, { cause: err });
    }
  }

  /**
   * Makes the message durable: resolves only when body, trailer (the first envelope) and
   * directory entry are on disk. Returns the bytes of a small message (for the body cache).
   */
  async commit(writer: SpoolWriter, env: Envelope): Promise<Buffer | undefined> {
    try {
      env.size = writer.length;
      env.rev = 1;
      const trailer = encodeTrailer(env);
      await writer.finish(trailer);
      if (writer.bytes !== env.size + trailer.length) throw Object.assign(new Error(`short write: ${writer.bytes} of ${env.size + trailer.length} bytes`), { code: 'ENOSPC' });
      // The file's bytes are flushed; its directory entry was flushed while DATA came in. The
      // trailer is the first envelope: no envelope file until the first state change.
      await Promise.all([this.fsync ? writer.datasync() : undefined, writer.entrySynced]);
    } catch (err) {
      await this.discard(writer);
      throw new SpoolError('spool commit failed', (err as NodeJS.ErrnoException).code, { cause: err });
    }
    // Durable already: closing the descriptor need not delay the 250.
    writer.closeFile().catch((err: unknown) => this.log.warn({ queueId: env.id, err: (err as Error).message }, 'spool: close failed'));
    return writer.smallBody();
  }

  /** Removes the spare files left (at shutdown). */
  close(): void {
    this.spares.close();
  }

  /** Forgets a message that will not be accepted (rejected, aborted, error). */
  async discard(writer: SpoolWriter): Promise<void> {
    writer.destroy();
    await writer.closeFile().catch(() => undefined);
    await rm(writer.path, { force: true }).catch(() => undefined);
  }
}

/** A message's bytes from its file, without the envelope trailer (`size`: the message's length). */
export function readMessageFile(path: string, size: number | undefined, start = 0): Readable {
  return createReadStream(path, { start, end: size === undefined ? undefined : size - 1, highWaterMark: 256 * 1024 });
}
