/**
 * A byte cap between a decompressor and its reader: past `max` bytes the stream errors, and
 * since streams pull, the decompressor upstream stops inflating there (a gzip bomb costs at most
 * the cap, never its announced size).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { ReportRejected } from './types.js';

export class ByteCap extends Transform {
  private seen = 0;
  constructor(private readonly max: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) return cb(tooLarge(this.max));
    cb(null, chunk);
  }
}

export function tooLarge(max: number): ReportRejected {
  return new ReportRejected('too_large', `rapport décompressé de plus de ${max} octets / decompressed report larger than ${max} bytes`);
}
