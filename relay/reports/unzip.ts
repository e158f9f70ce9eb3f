/**
 * Streaming unzip of a report attachment (Google, Yahoo send one XML file in a ZIP): the first
 * entry is inflated as its bytes arrive and passed on; later entries are skipped. fflate's
 * inflater is synchronous, so input is fed in small slices: one slice can never produce more
 * than ~1 KiB × 1032 (deflate's maximum ratio) before the byte count is checked again.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import { tooLarge } from './capped.js';
import { ReportRejected } from './types.js';

const SLICE = 1024;

export class UnzipFirst extends Transform {
  private readonly unzip = new Unzip();
  private started = false;
  private entry: UnzipFile | null = null;
  private out = 0;
  private failure: Error | null = null;

  constructor(private readonly max: number) {
    super();
    this.unzip.register(UnzipInflate);
    this.unzip.onfile = (file) => {
      if (this.started) return; // only the first entry: a report is one file
      this.started = true;
      this.entry = file;
      file.ondata = (err, data, _final) => {
        if (this.failure) return;
        if (err) {
          this.failure = new ReportRejected('malformed', `zip illisible / unreadable zip: ${err.message}`);
          return;
        }
        this.out += data.length;
        if (this.out > this.max) {
          this.failure = tooLarge(this.max);
          file.terminate();
          return;
        }
        if (data.length) this.push(Buffer.from(data.buffer, data.byteOffset, data.length));
      };
      file.start();
    };
  }

  private feed(chunk: Uint8Array, final: boolean): Error | null {
    try {
      if (chunk.length === 0) this.unzip.push(chunk, final);
      for (let i = 0; i < chunk.length && !this.failure; i += SLICE) {
        const end = Math.min(i + SLICE, chunk.length);
        this.unzip.push(chunk.subarray(i, end), final && end === chunk.length);
      }
    } catch (err) {
      this.failure ??= new ReportRejected('malformed', `zip illisible / unreadable zip: ${(err as Error).message}`);
    }
    return this.failure;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    cb(this.feed(chunk, false));
  }

  override _flush(cb: TransformCallback): void {
    const err = this.feed(new Uint8Array(0), true);
    if (err) return cb(err);
    if (!this.entry) return cb(new ReportRejected('malformed', 'zip sans fichier / zip without a file'));
    cb();
  }
}
