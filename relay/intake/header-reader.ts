/**
 * Reads the top-level header block of a streaming message (bounded), exposes the facts the
 * policies need, and adds Message-ID and Date when missing (at the end of the header block,
 * as Postfix's cleanup does). Everything else passes through byte for byte.
 */
import { Transform, type TransformCallback } from 'node:stream';
import addressparser from 'nodemailer/lib/addressparser';
import type { HeaderFacts } from '../../policies/types.js';
import { memoize } from '../../src/util/memo.js';

const MAX_HEADER_BYTES = 1024 * 1024;
const EOH = Buffer.from('\r\n\r\n');

export interface ParsedHeader {
  name: string;
  /** Unfolded value (UTF-8 decoded, encoded-words left as is). */
  value: string;
}

export class HeaderReader extends Transform {
  headers: ParsedHeader[] = [];
  /** True once the header block has been seen (or given up on when oversized). */
  done = false;
  /** Raw header block as delivered (with the headers Relais added), for DKIM signing. */
  headerBlock: Buffer = Buffer.alloc(0);
  private buf: Buffer[] = [];
  private buffered = 0;

  /**
   * `onBody` sees every byte after the header block (the body fingerprint): a callback, not one
   * more stream stage, which would cost more than the fingerprint itself.
   */
  constructor(
    private readonly addHeaders: (present: Set<string>) => string,
    private readonly onBody?: (chunk: Buffer) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.done) {
      this.onBody?.(chunk);
      return cb(null, chunk);
    }
    this.buf.push(chunk);
    this.buffered += chunk.length;
    const all = this.buf.length === 1 ? chunk : Buffer.concat(this.buf);
    this.buf = [all];
    // A message starting with an empty line has no headers at all.
    const end = all[0] === 0x0d && all[1] === 0x0a ? 0 : all.indexOf(EOH);
    if (end === -1 && this.buffered < MAX_HEADER_BYTES) return cb();
    if (end === -1) {
      // Oversized header block: treat the rest as body, like Postfix's header_size_limit.
      this.finish(all, all.length, false);
      return cb();
    }
    this.finish(all, end === 0 ? 0 : end + 2, true);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (!this.done) {
      const all = Buffer.concat(this.buf);
      // Headers only, no body: make sure the block ends with CRLF before adding ours.
      const text = all.length && !all.subarray(-2).equals(Buffer.from('\r\n')) ? Buffer.concat([all, Buffer.from('\r\n')]) : all;
      this.finish(text, text.length, true);
    }
    cb();
  }

  /** `split` = offset where the header block ends (after its last CRLF, before the empty line). */
  private finish(all: Buffer, split: number, complete: boolean): void {
    this.done = true;
    const head = all.subarray(0, split);
    this.headers = parseHeaderBlock(head);
    this.byName = undefined;
    const added = complete ? this.addHeaders(new Set(this.headers.map((h) => h.name.toLowerCase()))) : '';
    const extra = Buffer.from(added, 'utf8');
    this.headerBlock = Buffer.concat([head, extra]);
    this.push(this.headerBlock);
    if (split < all.length) {
      const body = all.subarray(split);
      // The empty line that ends the header block is not body.
      if (complete) this.onBody?.(body.subarray(body[0] === 0x0d && body[1] === 0x0a ? 2 : 0));
      this.push(body);
    }
    this.buf = [];
  }

  /** The first value of each header, by lower-case name (built on first use). */
  private byName?: Map<string, string>;

  get(name: string): string | undefined {
    if (!this.byName) {
      this.byName = new Map();
      for (const h of this.headers) {
        const n = h.name.toLowerCase();
        if (!this.byName.has(n)) this.byName.set(n, h.value);
      }
    }
    return this.byName.get(name.toLowerCase());
  }

  facts(): HeaderFacts {
    const fromRaw = this.get('from');
    const from = fromRaw ? fromAddresses(fromRaw) : [];
    return {
      from,
      fromRaw,
      messageId: this.get('message-id')?.trim(),
      subject: this.get('subject'),
      listUnsubscribe: this.get('list-unsubscribe'),
      listUnsubscribePost: this.get('list-unsubscribe-post'),
      listId: this.get('list-id'),
      precedence: this.get('precedence')?.trim().toLowerCase(),
      listmonkCampaign: this.get('x-listmonk-campaign')?.trim(),
      listmonkSubscriber: this.get('x-listmonk-subscriber')?.trim(),
    };
  }
}

type Parsed = ReturnType<typeof addressparser>;

/**
 * The addresses of a From: header, lower-cased; memoised (a sender writes the same one on every
 * message), so the list is read only: shared by the messages that name it.
 */
const fromAddresses = memoize((value: string) => Object.freeze(flattenAddresses(addressparser(value))) as string[]);

function flattenAddresses(list: Parsed): string[] {
  const out: string[] = [];
  for (const a of list) {
    if ('group' in a && Array.isArray(a.group)) out.push(...flattenAddresses(a.group as Parsed));
    else if ('address' in a && a.address) out.push(String(a.address).toLowerCase());
  }
  return out;
}

export function parseHeaderBlock(block: Buffer): ParsedHeader[] {
  const out: ParsedHeader[] = [];
  const lines = block.toString('utf8').split('\r\n');
  for (const line of lines) {
    if (!line) continue;
    if ((line[0] === ' ' || line[0] === '\t') && out.length) {
      out[out.length - 1]!.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return out;
}
