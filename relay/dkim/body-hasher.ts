/**
 * DkimBodyHasher: the intake pipes the message bytes (CRLF, exactly as delivered) through it on
 * their way to the spool. It keeps the header block (bounded) and hashes the body for both
 * canonicalisations at once, so signing at end of DATA never rereads or buffers the message.
 *
 *   const hasher = new DkimBodyHasher();
 *   await pipeline(smtpStream, hasher, fs.createWriteStream(spoolPath));
 *   const { headerBlock, bodyHashes } = hasher.result();
 *
 * Or without streams: hasher.update(chunk) ... hasher.result().
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BodyCanonicalizer } from './canonicalize.js';

/** Base64 sha256 of the canonical body, per body canonicalisation. */
export interface BodyHashes {
  relaxed: string;
  simple: string;
}

export interface DkimHashResult {
  /** Header fields, each ending in CRLF, without the blank line; null when over the limit. */
  headerBlock: Buffer | null;
  /** True when the header block was larger than maxHeaderBytes (the message cannot be signed). */
  headerOverflow: boolean;
  bodyHashes: BodyHashes;
  /** Raw body size in bytes (after the blank line). */
  bodyBytes: number;
}

export interface DkimBodyHasherOptions {
  /** Largest header block kept (default 1 MiB). */
  maxHeaderBytes?: number;
  /** Pass chunks through (Transform). Set false when nothing reads from it (pure sink). */
  passthrough?: boolean;
  /**
   * Body canonicalisations to hash (default both). The relay's keys all use relaxed, so it hashes
   * only that: canonicalising is most of the signing cost on large messages.
   */
  canonicalizations?: Array<'relaxed' | 'simple'>;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * The body hashes alone, fed with the bytes after the header section. The intake uses it through
 * its header reader, which already knows where the header section ends; DkimBodyHasher below
 * finds that end itself.
 */
export class BodyHasher {
  /** Body bytes fed so far. */
  bytes = 0;
  private readonly hashes: Partial<Record<'relaxed' | 'simple', Hash>> = {};
  private readonly canons: BodyCanonicalizer[];
  private digests: BodyHashes | undefined;

  constructor(canonicalizations: ReadonlyArray<'relaxed' | 'simple'> = ['relaxed', 'simple']) {
    this.canons = canonicalizations.map((c) => new BodyCanonicalizer(c, (this.hashes[c] = createHash('sha256'))));
  }

  update(chunk: Buffer): void {
    if (this.digests) throw new Error('BodyHasher: update after digest()');
    if (chunk.length === 0) return;
    this.bytes += chunk.length;
    for (const c of this.canons) c.write(chunk);
  }

  /** Ends hashing (idempotent). */
  digest(): BodyHashes {
    if (this.digests) return this.digests;
    for (const c of this.canons) c.end();
    this.digests = { relaxed: this.hashes.relaxed?.digest('base64') ?? '', simple: this.hashes.simple?.digest('base64') ?? '' };
    return this.digests;
  }
}

export class DkimBodyHasher extends Transform {
  private readonly maxHeaderBytes: number;
  private readonly passthrough: boolean;
  private inHeader = true;
  private headerParts: Buffer[] = [];
  private headerLen = 0;
  /** Last bytes of the header seen so far, to find CRLFCRLF across chunk boundaries. */
  private tail: Buffer = Buffer.alloc(0);
  private overflow = false;
  /** Header-phase bytes fed before the current chunk. */
  private fed = 0;
  private headerBlock: Buffer | null = null;
  private readonly bodyHash: BodyHasher;
  private final: DkimHashResult | null = null;

  constructor(options: DkimBodyHasherOptions = {}) {
    super();
    this.maxHeaderBytes = options.maxHeaderBytes ?? 1024 * 1024;
    this.passthrough = options.passthrough ?? true;
    this.bodyHash = new BodyHasher(options.canonicalizations);
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    try {
      this.update(buf);
    } catch (err) {
      return cb(err as Error);
    }
    cb(null, this.passthrough ? buf : undefined);
  }

  override _flush(cb: TransformCallback): void {
    this.result();
    cb();
  }

  /** Feeds message bytes (headers then body). */
  update(chunk: Buffer): void {
    if (this.final) throw new Error('DkimBodyHasher: update after result()');
    if (!this.inHeader) return this.body(chunk);

    // A message that starts with CRLF has no header fields: the body starts right after it.
    const scan = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const atStart = this.fed === this.tail.length;
    this.fed += chunk.length;
    if (atStart && scan.length >= 2 && scan[0] === 0x0d && scan[1] === 0x0a) {
      this.headerBlock = Buffer.alloc(0);
      this.headerParts = [];
      this.headerLen = 0;
      this.inHeader = false;
      return this.body(scan.subarray(2));
    }
    const at = scan.indexOf(CRLFCRLF);
    if (at < 0) {
      this.keepHeader(chunk);
      this.tail = Buffer.from(scan.subarray(Math.max(0, scan.length - 3)));
      return;
    }
    // `at` is relative to scan = tail + chunk; the header keeps its first CRLF.
    const cut = at - this.tail.length + 2; // index in chunk just after the header's last CRLF
    if (cut > 0) this.keepHeader(chunk.subarray(0, cut));
    else if (cut < 0) this.dropHeaderBytes(-cut); // the CRLF straddled the boundary: already kept
    this.inHeader = false;
    this.tail = Buffer.alloc(0);
    if (!this.overflow) this.headerBlock = Buffer.concat(this.headerParts, this.headerLen);
    this.headerParts = [];
    this.body(chunk.subarray(cut + 2));
  }

  /** Finishes hashing (idempotent) and returns the header block and body hashes. */
  result(): DkimHashResult {
    if (this.final) return this.final;
    if (this.inHeader) {
      // No blank line: the whole message is header, the body is empty (RFC 5322 allows it).
      this.inHeader = false;
      if (!this.overflow) {
        let block = Buffer.concat(this.headerParts, this.headerLen);
        if (!block.subarray(-2).equals(Buffer.from('\r\n'))) block = Buffer.concat([block, Buffer.from('\r\n')]);
        this.headerBlock = block;
      }
      this.headerParts = [];
    }
    this.final = { headerBlock: this.headerBlock, headerOverflow: this.overflow, bodyHashes: this.bodyHash.digest(), bodyBytes: this.bodyHash.bytes };
    return this.final;
  }

  private body(chunk: Buffer): void {
    this.bodyHash.update(chunk);
  }

  private keepHeader(part: Buffer): void {
    if (this.overflow) return;
    if (this.headerLen + part.length > this.maxHeaderBytes) {
      this.overflow = true;
      this.headerParts = [];
      return;
    }
    // Copy: the caller may reuse its chunk buffers.
    this.headerParts.push(Buffer.from(part));
    this.headerLen += part.length;
  }

  /** The blank line's first bytes were kept as header in the previous chunk: cut them off. */
  private dropHeaderBytes(count: number): void {
    if (this.overflow) return;
    const block = Buffer.concat(this.headerParts, this.headerLen);
    this.headerParts = [block.subarray(0, block.length - count)];
    this.headerLen -= count;
  }
}
