/**
 * Streams one incoming message into its body file. The file is opened exclusively, written with
 * back-pressure, and fsynced by the spool at commit time; on any error the spool discards it.
 */
import { Writable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';

export class SpoolWriter extends Writable {
  bytes = 0;
  /** Resolves once the file's directory entry is on disk (started when the file was created). */
  entrySynced: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly path: string,
    readonly handle: FileHandle,
  ) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    this.handle.writev(buffers).then(
      (r) => {
        this.bytes += r.bytesWritten;
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  /** Resolves when every byte written so far has reached the file handle. */
  flushed(): Promise<void> {
    if (this.writableFinished) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.once('error', reject);
      this.end(() => {
        this.off('error', reject);
        resolve();
      });
    });
  }
}
