/**
 * A passthrough stage that fingerprints the message body for the bulk "same content" signal:
 * one normalised body sent to many distinct recipients across messages. Copies of a mailing
 * differ in what the sending software varies per message, so the normalisation drops it:
 *  - the top-level header block, MIME boundary lines and every part's header block (boundaries
 *    are random per message);
 *  - whitespace, line breaks, digits (dates, counters, tracking numbers) and '=' (quoted-printable
 *    soft breaks, base64 padding); ASCII letters are lowercased.
 * What is left is hashed (SHA-256, first 128 bits in hex). A body with fewer than
 * MIN_CONTENT normalised bytes gets no fingerprint: short replies ("Merci !") are alike by nature.
 * Only the first MAX_BODY bytes of body are read, which bounds the CPU spent on large messages.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const MIN_CONTENT = 24;
export const MAX_BODY = 1024 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;

/** Byte → normalised byte (0 = dropped). */
const MAP = new Uint8Array(256);
for (let b = 0; b < 256; b++) MAP[b] = b;
for (const b of [0x20, 0x09, CR, LF, 0x0b, 0x0c, 0x3d]) MAP[b] = 0;
for (let b = 0x30; b <= 0x39; b++) MAP[b] = 0;
for (let b = 0x41; b <= 0x5a; b++) MAP[b] = b + 0x20;

type Mode = 'headers' | 'body' | 'skip';

export class BodyFingerprint extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private mode: Mode = 'headers';
  /** Bytes of the current line so far (CR not counted). */
  private col = 0;
  /** The first bytes of a body line, held until it is known whether it is a boundary. */
  private lead: number[] = [];
  /** Whether the current body line is known to be text. */
  private decided = false;
  private content = 0;
  private bodyBytes = 0;
  private out = Buffer.allocUnsafe(16 * 1024);

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.bodyBytes < MAX_BODY) this.scan(chunk);
    cb(null, chunk);
  }

  /** The fingerprint once the stream has ended; undefined when the body is too short to tell. */
  result(): string | undefined {
    this.flushLead();
    return this.content >= MIN_CONTENT ? this.hash.digest('hex').slice(0, 32) : undefined;
  }

  private scan(chunk: Buffer): void {
    if (this.out.length < chunk.length + 4) this.out = Buffer.allocUnsafe(chunk.length + 4);
    const out = this.out;
    let n = 0;
    // Body bytes only count towards MAX_BODY (headers are bounded by the header reader).
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === LF) {
        // An empty line ends a header block; a body line ends (and a boundary line with it).
        if (this.mode === 'headers' && this.col === 0) this.mode = 'body';
        else if (this.mode === 'skip') this.mode = 'headers';
        else if (this.mode === 'body') n = this.emitLead(out, n);
        this.col = 0;
        this.decided = false;
        continue;
      }
      if (b === CR) continue;
      this.col++;
      if (this.mode !== 'body') continue;
      this.bodyBytes++;
      if (!this.decided) {
        // "--x" (x not a space) starts a MIME boundary: skip it and the part's headers after it.
        this.lead.push(b);
        if (this.col <= 2 ? b !== DASH : b === 0x20 || b === 0x09) n = this.emitLead(out, n);
        else if (this.col === 3) {
          this.lead.length = 0;
          this.mode = 'skip';
        }
        continue;
      }
      const m = MAP[b]!;
      if (m) out[n++] = m;
    }
    if (n) {
      this.hash.update(out.subarray(0, n));
      this.content += n;
    }
  }

  /** Writes the held line start as text. */
  private emitLead(out: Buffer, n: number): number {
    for (const b of this.lead) {
      const m = MAP[b]!;
      if (m) out[n++] = m;
    }
    this.lead.length = 0;
    this.decided = true;
    return n;
  }

  private flushLead(): void {
    if (!this.lead.length) return;
    const n = this.emitLead(this.out, 0);
    if (n) {
      this.hash.update(this.out.subarray(0, n));
      this.content += n;
    }
  }
}
