/**
 * RFC 6376 §3.4 canonicalisation, byte-exact. Everything works on Buffers: header fields and
 * bodies are octets (UTF-8, latin-1, whatever the sender wrote), and the only whitespace DKIM
 * knows is WSP = SP / HTAB. JS `\s` also matches 0xA0, 0x0B, 0x0C (and in UTF-16 strings many
 * more), which is exactly how libraries end up mangling "à" (C3 A0) or a no-break space (C2 A0).
 */

export type Canon = 'relaxed' | 'simple';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

const isWsp = (b: number): boolean => b === SP || b === HTAB;

/** One header field as it appears in the message: `raw` is the whole field, folding included, without its final CRLF. */
export interface HeaderField {
  /** Lower-cased field name (ASCII). */
  key: string;
  raw: Buffer;
  /** Byte offset of the field in the header block. */
  offset: number;
}

/**
 * Splits a header block (fields, each ending in CRLF; no blank line) into fields. A line that
 * starts with WSP continues the previous field. Only CRLF ends a line: bare CR/LF stay content.
 */
export function parseHeaderFields(block: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let start = 0;
  let i = 0;
  const n = block.length;
  while (start < n) {
    // Find the CRLF that ends this field (one not followed by WSP).
    let end = -1;
    for (i = start; i < n - 1; i++) {
      if (block[i] === CR && block[i + 1] === LF && !(i + 2 < n && isWsp(block[i + 2]))) {
        end = i;
        break;
      }
    }
    if (end < 0) end = n; // last field without CRLF
    const raw = block.subarray(start, end);
    if (raw.length > 0) fields.push({ key: fieldName(raw).toLowerCase(), raw, offset: start });
    start = end + 2;
  }
  return fields;
}

/** Field name: bytes before the first colon, trailing WSP removed (RFC 6376 allows "Name :"). */
export function fieldName(raw: Buffer): string {
  let colon = raw.indexOf(COLON);
  if (colon < 0) colon = raw.length;
  let end = colon;
  while (end > 0 && isWsp(raw[end - 1])) end--;
  return raw.subarray(0, end).toString('latin1');
}

/**
 * Relaxed header canonicalisation (§3.4.2) of one field, without the CRLF: lower-case name,
 * unfold, WSP runs to one SP, no WSP around the colon or at the end of the value.
 */
export function relaxedHeader(raw: Buffer): Buffer {
  let colon = raw.indexOf(COLON);
  if (colon < 0) colon = raw.length;
  const name = fieldName(raw).toLowerCase();
  const out = Buffer.allocUnsafe(name.length + 1 + (raw.length - colon));
  let n = out.write(name, 0, 'latin1');
  out[n++] = COLON;
  let pendingWsp = false;
  let started = false; // WSP before the first value byte is dropped
  for (let i = colon + 1; i < raw.length; i++) {
    const b = raw[i];
    if (b === CR && raw[i + 1] === LF) {
      i++; // unfold: drop the CRLF, the WSP after it counts as WSP
      continue;
    }
    if (isWsp(b)) {
      pendingWsp = true;
      continue;
    }
    if (pendingWsp && started) out[n++] = SP;
    pendingWsp = false;
    started = true;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** Canonical form of one field for the header hash, without CRLF (the caller adds it). */
export function canonicalizeHeader(raw: Buffer, canon: Canon): Buffer {
  return canon === 'relaxed' ? relaxedHeader(raw) : raw;
}

const OUT_SIZE = 64 * 1024;

/** Where canonical body bytes go (a hash). */
export interface ByteSink {
  update(data: Buffer): unknown;
}

/**
 * Streaming body canonicaliser (§3.4.3 simple, §3.4.4 relaxed). Bytes go in through `write`,
 * canonical bytes come out into the sink. Trailing empty lines are held back as a counter, so
 * a body ending in a million CRLFs costs nothing, and CRLF split over two chunks is handled by
 * a pending-CR flag.
 */
export class BodyCanonicalizer {
  private out = Buffer.allocUnsafe(OUT_SIZE);
  private n = 0;
  private cr = false; // a CR waiting to see whether LF follows
  private crlfRun = 0; // CRLFs held back (they may be trailing empty lines)
  private wsp = false; // relaxed: a WSP run held back
  private content = false; // any non-CRLF byte emitted
  private done = false;
  /** Canonical bytes produced so far. */
  length = 0;

  constructor(
    readonly canon: Canon,
    private readonly sink: ByteSink,
  ) {}

  write(chunk: Buffer): void {
    if (this.canon === 'simple') this.writeSimple(chunk);
    else this.writeRelaxed(chunk);
  }

  /** Simple: only CRLF runs are held back; everything between CRs goes out as spans. */
  private writeSimple(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.cr) {
        this.cr = false;
        if (chunk[i] === LF) {
          this.crlfRun++;
          i++;
          continue;
        }
        this.content_(CR); // bare CR is line content
      }
      const j = chunk.indexOf(CR, i);
      const end = j < 0 ? n : j;
      if (end > i) this.span(chunk, i, end);
      if (j < 0) return;
      this.cr = true;
      i = j + 1;
    }
  }

  /** Relaxed: WSP runs and CRLF runs are held back; other bytes go out as spans. */
  private writeRelaxed(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const b = chunk[i];
      if (this.cr) {
        this.cr = false;
        if (b === LF) {
          this.crlfRun++;
          this.wsp = false; // WSP at the end of a line is ignored
          i++;
          continue;
        }
        this.content_(CR); // bare CR is line content; b is looked at again below
        continue;
      }
      if (b === CR) {
        this.cr = true;
        i++;
      } else if (b === SP || b === HTAB) {
        this.wsp = true;
        i++;
      } else {
        let end = i + 1;
        while (end < n) {
          const c = chunk[end];
          if (c === SP || c === HTAB || c === CR) break;
          end++;
        }
        this.span(chunk, i, end);
        i = end;
      }
    }
  }

  /** Flushes the canonical end of the body. */
  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.cr) {
      this.cr = false;
      this.content_(CR);
    }
    // relaxed: WSP at the end of the last (unterminated) line is ignored, like any line end.
    this.wsp = false;
    // simple: an empty body is one CRLF; otherwise the body ends in exactly one CRLF.
    // relaxed: an empty body stays empty; a non-empty one ends in exactly one CRLF.
    if (this.content || this.canon === 'simple') {
      this.push(CR);
      this.push(LF);
    }
    this.flush();
  }

  /** Emits what was held back (CRLFs, one SP) before line content. */
  private release(): void {
    while (this.crlfRun > 0) {
      this.push(CR);
      this.push(LF);
      this.crlfRun--;
    }
    if (this.wsp) {
      this.push(SP);
      this.wsp = false;
    }
    this.content = true;
  }

  private content_(b: number): void {
    this.release();
    this.push(b);
  }

  /** Line content chunk[start, end): small spans are copied, large ones hashed in place. */
  private span(chunk: Buffer, start: number, end: number): void {
    this.release();
    const len = end - start;
    if (len <= 1024) {
      if (this.n + len > OUT_SIZE) this.flush();
      const out = this.out;
      let n = this.n;
      if (len < 64) for (let k = start; k < end; k++) out[n++] = chunk[k]; // cheaper than a native call
      else n += chunk.copy(out, n, start, end);
      this.n = n;
      if (n === OUT_SIZE) this.flush();
    } else {
      this.flush();
      this.sink.update(chunk.subarray(start, end));
      this.length += len;
    }
  }

  private push(b: number): void {
    this.out[this.n++] = b;
    if (this.n >= OUT_SIZE) this.flush();
  }

  private flush(): void {
    if (this.n === 0) return;
    // The sink may keep a reference (hash.update copies; tests collecting bytes must copy too).
    this.sink.update(this.out.subarray(0, this.n));
    this.length += this.n;
    this.n = 0;
  }
}

/** Canonicalises a whole body at once (tests, small messages). */
export function canonicalizeBody(body: Buffer, canon: Canon): Buffer {
  const parts: Buffer[] = [];
  const c = new BodyCanonicalizer(canon, { update: (d: Buffer) => parts.push(Buffer.from(d)) });
  c.write(body);
  c.end();
  return Buffer.concat(parts);
}
