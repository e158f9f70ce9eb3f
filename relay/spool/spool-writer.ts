/**
 * Streams one incoming message into its body file. Writes are corked until 256 KiB are queued or
 * the message is committed, so a small message reaches the file in one writev together with its
 * envelope trailer. That last write of a message under 64 KiB is a plain system call on the
 * calling thread (a few microseconds into the page cache): a thread-pool round trip costs more,
 * two thread wake-ups, and is latency the SMTP client waits for. Larger writes go through the
 * pool with back-pressure, so a slow disk never holds up the event loop. On any error the spool
 * discards the file.
 */
import { Writable } from 'node:stream';
import { closeSync, fdatasync, writev, writevSync } from 'node:fs';
import { CACHE_MESSAGE_MAX } from './body-cache.js';

const CORK_LIMIT = 256 * 1024;
/** Writes up to this size are made synchronously (page cache only; the fsync stays asynchronous). */
const SYNC_WRITE_MAX = 64 * 1024;

type WriteCallback = (err?: Error | null) => void;

export class SpoolWriter extends Writable {
  /** Message bytes handed to the writer so far (on disk or still queued). */
  length = 0;
  /** Bytes written to the file. */
  bytes = 0;
  /** Resolves once the file's directory entry is on disk (started when the file was created). */
  entrySynced: Promise<void> = Promise.resolve();
  /** The pool's last write on the descriptor: it is closed only after (its number could be reused). */
  private inFlight: Promise<unknown> = Promise.resolve();
  private fdClosed = false;
  private closing: Promise<void> | undefined;
  /** The message bytes while it stays small enough for the body cache (else undefined). */
  private small: Buffer[] | undefined = [];

  constructor(
    readonly id: string,
    readonly path: string,
    readonly fd: number,
  ) {
    super({ highWaterMark: CORK_LIMIT });
    this.cork();
    // Write errors surface through finish() / flushQueued() (and the pipeline while DATA flows);
    // an error while nobody waits must not become an uncaught 'error' event.
    this.on('error', () => undefined);
  }

  override write(chunk: Buffer | string, cb?: WriteCallback): boolean;
  override write(chunk: Buffer | string, encoding: BufferEncoding, cb?: WriteCallback): boolean;
  override write(chunk: Buffer | string, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (typeof chunk === 'string') chunk = Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8');
    this.length += chunk.length;
    if (this.small && this.length <= CACHE_MESSAGE_MAX) this.small.push(chunk);
    else this.small = undefined;
    const ok = typeof encoding === 'function' ? super.write(chunk, encoding) : super.write(chunk, encoding ?? 'utf8', cb);
    if (this.writableCorked && this.writableLength >= CORK_LIMIT) this.uncorkAll();
    return ok;
  }

  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    // Writable.end(chunk) does not go through write(): count the last chunk here.
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
      this.small = undefined;
      this.length += typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : (chunk as Buffer).length;
    }
    this.uncorkAll();
    return super.end(chunk as Buffer, encoding as BufferEncoding, cb as () => void);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => callback(), (err: Error) => callback(err));
  }

  /** writev may write less than asked (disk full): go on until done, a 0-byte write is ENOSPC. */
  private async writeAll(buffers: Buffer[]): Promise<void> {
    let rest = buffers.filter((b) => b.length > 0);
    while (rest.length) {
      const size = rest.reduce((n, b) => n + b.length, 0);
      if (this.fdClosed) throw Object.assign(new Error('EBADF: spool file already closed'), { code: 'EBADF' });
      let bytesWritten: number;
      if (size <= SYNC_WRITE_MAX) bytesWritten = writevSync(this.fd, rest);
      else {
        const op = writevAsync(this.fd, rest);
        this.inFlight = op.catch(() => 0);
        bytesWritten = await op;
      }
      if (bytesWritten === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      this.bytes += bytesWritten;
      let skip = bytesWritten;
      while (rest.length && skip >= rest[0]!.length) skip -= rest.shift()!.length;
      if (skip > 0) rest[0] = rest[0]!.subarray(skip);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  /** The whole message when it was small (for the body cache), else undefined. */
  smallBody(): Buffer | undefined {
    if (!this.small) return undefined;
    // Its own memory, not a slice of Node's shared pool: it can be handed to another thread
    // (transferred, not copied).
    const body = Buffer.allocUnsafeSlow(this.length);
    let at = 0;
    for (const chunk of this.small) at += chunk.copy(body, at);
    return body;
  }

  private uncorkAll(): void {
    while (this.writableCorked) this.uncork();
  }

  /** Writes what is still queued without ending the file (for hooks that read it during DATA). */
  flushQueued(): Promise<void> {
    if (this.errored) return Promise.reject(this.errored);
    this.uncorkAll();
    if (this.writableEnded) return this.ended();
    return new Promise((resolve, reject) => super.write(Buffer.alloc(0), (err?: Error | null) => (err ? reject(err) : resolve())));
  }

  /**
   * Appends `trailer` after the message and resolves once everything is in the file. A writer the
   * caller already ended gets the trailer written at the end of the file.
   */
  async finish(trailer: Buffer): Promise<void> {
    if (this.errored) throw this.errored;
    this.uncorkAll();
    if (this.writableEnded) {
      await this.ended();
      await this.writeAll([trailer]);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.once('error', onError);
      super.end(trailer, () => {
        this.off('error', onError);
        resolve();
      });
    });
  }

  /** Closes the file once, after any write the pool is still making on it. */
  closeFile(): Promise<void> {
    this.closing ??= (async () => {
      this.fdClosed = true; // no write starts after this
      await this.inFlight;
      closeSync(this.fd);
    })();
    return this.closing;
  }

  /** fdatasync on the thread pool. */
  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  private ended(): Promise<void> {
    if (this.writableFinished) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.once('finish', resolve);
      this.once('error', reject);
    });
  }
}

function writevAsync(fd: number, buffers: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => writev(fd, buffers, (err, n) => (err ? reject(err) : resolve(n))));
}
