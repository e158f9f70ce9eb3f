/**
 * Reads the top-level header section of a streaming message (bounded), exposes the facts the
 * policies need, and adds Message-ID and Date when missing (at the end of the header section,
 * as Postfix's cleanup does). Everything else passes through byte for byte.
 *
 * Work is linear in the header section's size however it is chunked: each byte is looked at
 * once by the end-of-header search (HeaderEnd), and the chunks are joined once, when the section
 * is complete. Past `maxBytes` the reader gives up:
 * it keeps nothing and passes nothing on (`oversized`), so the intake answers 552 without having
 * spooled or parsed any of it.
 */
import addressparser from 'nodemailer/lib/addressparser';
import type { HeaderFacts } from '../../policies/types.js';
import { memoize } from '../../src/util/memo.js';
import { HeaderEnd } from './header-end.js';

/** smtp.max_header_size's default. */
export const MAX_HEADER_BYTES = 1024 * 1024;

const CR = 0x0d;
const LF = 0x0a;

export interface ParsedHeader {
  name: string;
  /** Unfolded value (UTF-8 decoded, encoded-words left as is). */
  value: string;
}

export interface HeaderReaderOptions {
  /** Largest header section taken (smtp.max_header_size, default 1 MiB). */
  maxBytes?: number;
  /**
   * Whether parsed From: values may be remembered for the next message (default true). False
   * for anonymous clients: nothing derived from their messages outlives the message.
   */
  memo?: boolean;
}

export class HeaderReader {
  headers: ParsedHeader[] = [];
  /** True once the header section has been seen (or given up on when oversized). */
  done = false;
  /** True when the header section was larger than maxBytes: nothing was kept or passed on. */
  oversized = false;
  /** Raw header section as delivered (with the headers Relais added), for DKIM signing. */
  headerBlock: Buffer = Buffer.alloc(0);
  private buf: Buffer[] = [];
  private buffered = 0;
  private readonly headerEnd = new HeaderEnd();
  private readonly maxBytes: number;
  private readonly memo: boolean;

  /**
   * `onBody` sees every byte after the header section (the body fingerprint, the DKIM body hash):
   * a callback, not one more stream stage, which would cost more than the work itself.
   */
  constructor(
    private readonly addHeaders: (present: Set<string>) => string,
    private readonly onBody?: (chunk: Buffer) => void,
    opts: HeaderReaderOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? MAX_HEADER_BYTES;
    this.memo = opts.memo ?? true;
  }

  /** Takes the next bytes of the message; what is to be spooled is appended to `out`. */
  take(chunk: Buffer, out: Buffer[]): void {
    if (this.oversized) return;
    if (this.done) {
      this.onBody?.(chunk);
      out.push(chunk);
      return;
    }
    const end = this.headerEnd.find(chunk);
    // `end` counts from the start of this chunk; the section is everything before its empty line.
    const split = end === null ? null : this.buffered + end;
    this.buf.push(chunk);
    this.buffered += chunk.length;
    // Not found yet: the empty line's CR LF may be what is past the bound, so allow for it.
    if (split === null ? this.buffered > this.maxBytes + 2 : split > this.maxBytes) {
      this.oversized = true;
      this.done = true;
      this.buf = [];
      return;
    }
    if (split === null) return;
    this.finish(Buffer.concat(this.buf, this.buffered), split, out);
  }

  /** Bytes examined looking for the end of the header section (linear: at most its size). */
  get scanned(): number {
    return this.headerEnd.scanned;
  }

  /** At the end of DATA: a message without an empty line is all header section. */
  end(out: Buffer[]): void {
    if (!this.done) {
      const all = Buffer.concat(this.buf, this.buffered);
      // Headers only, no body: make sure the section ends with CRLF before adding ours.
      const text = all.length && !(all[all.length - 2] === CR && all[all.length - 1] === LF) ? Buffer.concat([all, Buffer.from('\r\n')]) : all;
      this.finish(text, text.length, out);
    }
  }

  /** `split` = offset where the header section ends (after its last CRLF, before the empty line). */
  private finish(all: Buffer, split: number, out: Buffer[]): void {
    this.done = true;
    const head = all.subarray(0, split);
    this.headers = parseHeaderBlock(head);
    this.byName = undefined;
    const added = this.addHeaders(new Set(this.headers.map((h) => h.name.toLowerCase())));
    this.headerBlock = added ? Buffer.concat([head, Buffer.from(added, 'utf8')]) : head;
    out.push(this.headerBlock);
    if (split < all.length) {
      const body = all.subarray(split);
      // The empty line that ends the header section is not body.
      this.onBody?.(body.subarray(body[0] === CR && body[1] === LF ? 2 : 0));
      out.push(body);
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
    // Every From: header, not just the first: each address is judged by the sender policy.
    const fromRaw = this.headers.filter((h) => h.name.toLowerCase() === 'from').map((h) => h.value);
    const parse = this.memo ? fromAddresses : parseFromAddresses;
    const from = fromRaw.length === 1 ? parse(fromRaw[0]!) : fromRaw.flatMap((v) => parse(v));
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

/** The addresses of a From: header, lower-cased (read only: a memoised list is shared). */
function parseFromAddresses(value: string): string[] {
  return Object.freeze(flattenAddresses(addressparser(value))) as string[];
}

/** Memoised: a sender writes the same From: on every message. */
const fromAddresses = memoize(parseFromAddresses);

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
