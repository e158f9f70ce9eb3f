/**
 * Fingerprints a message body, fed chunk by chunk (the header reader hands it the bytes after
 * the top-level header block), for the bulk "same content" signal:
 * one normalised body sent to many distinct recipients across messages. Copies of a mailing
 * differ in what the sending software varies per message, so the normalisation drops it:
 *  - MIME boundary lines and every part's header block (boundaries are random per message);
 *  - whitespace, line breaks, digits (dates, counters, tracking numbers) and '=' (quoted-printable
 *    soft breaks, base64 padding); ASCII letters are lowercased.
 * What is left is packed into a scratch buffer and hashed four bytes at a time (two 32-bit
 * multiplicative hashes and the length: a fingerprint, not a digest; a cryptographic hash cost more
 * than the rest of the stage, and a deliberate collision only makes its sender's own mail look
 * more like bulk). A body with fewer than
 * MIN_CONTENT normalised bytes gets no fingerprint: short replies ("Merci !") are alike by nature.
 * Only the first MAX_BODY bytes of body are read, which bounds the CPU spent on large messages.
 */
import type { BodyPrint } from '../../policies/types.js';

export const MIN_CONTENT = 24;
export const MAX_BODY = 1024 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
/** A line starting with '-' may be a MIME boundary: text runs up to the next one go the fast way. */
const LF_DASH = Buffer.from('\n-', 'latin1');

/** Byte → normalised byte (0 = dropped). */
const MAP = new Uint8Array(256);
for (let b = 0; b < 256; b++) MAP[b] = b;
for (const b of [0x20, 0x09, CR, LF, 0x0b, 0x0c, 0x3d]) MAP[b] = 0;
for (let b = 0x30; b <= 0x39; b++) MAP[b] = 0;
for (let b = 0x41; b <= 0x5a; b++) MAP[b] = b + 0x20;

/**
 * Where normalised bytes are packed during one update() or result() call (synchronous, so one
 * buffer serves every fingerprint), read back as 32-bit words. Chunks are scanned in slices that
 * fit it.
 */
const SLICE = 16 * 1024;
const PACKED = new Uint8Array(SLICE + 64);
const WORDS = new Uint32Array(PACKED.buffer);

type Mode = 'headers' | 'body' | 'skip';

export class BodyFingerprint {
  private h1 = 0x811c9dc5;
  private h2 = 0x5bd1e995;
  private mode: Mode = 'body';
  /** Bytes of the current line so far: 0 at a line start, 1–2 while the start is told (CR not counted there). */
  private col = 0;
  /** The first bytes of a body line, held until it is known whether it is a boundary. */
  private lead: number[] = [];
  /** Whether the current body line is known to be text. */
  private decided = false;
  private content = 0;
  private bodyBytes = 0;
  /** Normalised bytes not hashed yet (fewer than four, packed little-endian) and their count. */
  private carry = 0;
  private carried = 0;
  /** Next free byte of PACKED while a call runs. */
  private packed = 0;

  /** The next bytes of the body. */
  update(chunk: Buffer): void {
    for (let at = 0; at < chunk.length && this.bodyBytes < MAX_BODY; at += SLICE) {
      this.unpack();
      this.scan(at === 0 && chunk.length <= SLICE ? chunk : chunk.subarray(at, at + SLICE));
      this.hashPacked(false);
    }
  }

  /** The fingerprint once the stream has ended; undefined when the body is too short to tell. */
  result(): BodyPrint | undefined {
    this.unpack();
    this.emitLead();
    this.hashPacked(true);
    if (this.content < MIN_CONTENT) return undefined;
    return { h1: this.h1 >>> 0, h2: this.h2 >>> 0, length: this.content };
  }

  private scan(chunk: Buffer): void {
    const len = chunk.length;
    let i = 0;
    while (i < len) {
      if (this.mode === 'body' && this.decided) {
        // The hot path: text up to the next line that starts with '-' (a boundary candidate,
        // nearly never in person-to-person mail) holds no line start to tell apart, and line
        // ends are dropped bytes like any other. Each byte is normalised and packed, without a
        // branch (a mispredicted one per word cost more than the rest).
        const dash = chunk.indexOf(LF_DASH, i);
        const end = dash === -1 ? len : dash + 1;
        let j = this.packed;
        let q = i;
        for (; q + 4 <= end; q += 4) {
          const m0 = MAP[chunk[q]!]!, m1 = MAP[chunk[q + 1]!]!, m2 = MAP[chunk[q + 2]!]!, m3 = MAP[chunk[q + 3]!]!;
          PACKED[j] = m0;
          j += (m0 + 255) >>> 8;
          PACKED[j] = m1;
          j += (m1 + 255) >>> 8;
          PACKED[j] = m2;
          j += (m2 + 255) >>> 8;
          PACKED[j] = m3;
          j += (m3 + 255) >>> 8;
        }
        for (; q < end; q++) {
          const m = MAP[chunk[q]!]!;
          PACKED[j] = m;
          j += (m + 255) >>> 8;
        }
        this.content += j - this.packed;
        this.packed = j;
        // Where the run leaves the current line: just after a line end (its start is told next),
        // or inside a line whose start was text.
        const nl = chunk.lastIndexOf(LF, end - 1);
        if (nl >= i) {
          this.col = end - nl - 1;
          this.decided = this.col > 0;
        } else this.col += end - i;
        this.bodyBytes += end - i;
        i = end;
        continue;
      } else if (this.mode === 'body' && this.col === 0 && i + 3 <= len && chunk[i] !== CR && chunk[i + 1] !== CR && chunk[i + 2] !== CR) {
        // A body line whose first three bytes are at hand is told at once (as step would, byte
        // by byte): "--x", x not a space or a line end, starts a MIME boundary line. A CR among
        // them (step skips CRs) goes the slow way.
        const x = chunk[i + 2]!;
        if (chunk[i] === DASH && chunk[i + 1] === DASH && x !== 0x20 && x !== 0x09 && x !== CR && x !== LF) {
          this.mode = 'skip';
          this.col = 3;
          this.bodyBytes += 3;
          i += 3;
        } else this.decided = true;
        continue;
      } else if (this.mode !== 'body' && this.col > 0) {
        // Inside a header or boundary line: only its end matters.
        const nl = chunk.indexOf(LF, i);
        if (nl === -1) return;
        i = nl;
      }
      this.step(chunk[i]!);
      i++;
    }
  }

  /** One byte outside the hot loop: line ends, header blocks, the start of body lines. */
  private step(b: number): void {
    if (b === LF) {
      // An empty line ends a part's header block; a body line ends (and a boundary line with it).
      if (this.mode === 'headers' && this.col === 0) this.mode = 'body';
      else if (this.mode === 'skip') this.mode = 'headers';
      else if (this.mode === 'body') this.emitLead();
      this.col = 0;
      this.decided = false;
      return;
    }
    if (b === CR) return;
    this.col++;
    if (this.mode !== 'body') return;
    this.bodyBytes++;
    // "--x" (x not a space) starts a MIME boundary: skip it and the part's headers after it.
    this.lead.push(b);
    if (this.col <= 2 ? b !== DASH : b === 0x20 || b === 0x09) this.emitLead();
    else if (this.col === 3) {
      this.lead.length = 0;
      this.mode = 'skip';
    }
  }

  /** Hashes the held line start as text; the rest of the line is text too. */
  private emitLead(): void {
    for (const b of this.lead) this.add(b);
    this.lead.length = 0;
    this.decided = true;
  }

  private add(b: number): void {
    const m = MAP[b]!;
    if (m === 0) return;
    PACKED[this.packed++] = m;
    this.content++;
  }

  /** Starts a call: the carried bytes go first in PACKED. */
  private unpack(): void {
    WORDS[0] = this.carry;
    this.packed = this.carried;
  }

  /** Hashes the packed whole words; the rest is carried to the next call, or hashed when last. */
  private hashPacked(last: boolean): void {
    const words = this.packed >>> 2;
    let h1 = this.h1;
    let h2 = this.h2;
    for (let q = 0; q < words; q++) {
      const w = WORDS[q]!;
      h1 = Math.imul(((h1 << 5) | (h1 >>> 27)) ^ w, 0x9e3779b9);
      h2 = Math.imul(((h2 << 11) | (h2 >>> 21)) ^ w, 0x85ebca6b);
    }
    const rest = this.packed & 3;
    const tail = rest ? WORDS[words]! & ((1 << (rest * 8)) - 1) : 0;
    if (last && rest) {
      h1 = Math.imul(((h1 << 5) | (h1 >>> 27)) ^ tail, 0x9e3779b9);
      h2 = Math.imul(((h2 << 11) | (h2 >>> 21)) ^ tail, 0x85ebca6b);
    }
    this.h1 = h1;
    this.h2 = h2;
    this.carry = tail;
    this.carried = last ? 0 : rest;
    this.packed = 0;
  }
}
