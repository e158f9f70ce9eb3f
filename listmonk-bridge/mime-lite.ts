/**
 * Just enough MIME to read delivery and feedback reports: header fields (unfolded), multipart
 * splitting (recursive), base64 / quoted-printable decoding of leaf parts. Reports are small;
 * input is read up to a cap (the attached original message may be cut, we only need its headers).
 */
import type { Readable } from 'node:stream';

export interface MimePart {
  headers: Array<[string, string]>;
  /** Lower-cased type/subtype, default text/plain. */
  contentType: string;
  params: Record<string, string>;
  /** Decoded body (leaf parts); raw body for multiparts. */
  body: Buffer;
  children: MimePart[];
}

/** smtp.max_report_size's default: reports are read whole, up to this. */
export const REPORT_MAX_BYTES = 2 * 1024 * 1024;
/** RFC 2046 §5.1.1: a boundary is 1 to 70 characters (longer ones would make splitting O(n·length)). */
const MAX_BOUNDARY = 70;
/** Parts read in one report (a DSN or complaint has 2 or 3; the rest is not looked at). */
const MAX_PARTS = 100;

export async function readCapped(input: Buffer | string | Readable, max = REPORT_MAX_BYTES): Promise<Buffer> {
  if (typeof input === 'string') return Buffer.from(input, 'utf8').subarray(0, max);
  if (Buffer.isBuffer(input)) return input.subarray(0, max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(b);
    size += b.length;
    if (size >= max) {
      input.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, max);
}

/** Header block text → [name, value] fields, continuation lines unfolded. */
export function parseFields(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) out[out.length - 1][1] += ' ' + line.trim();
    else {
      const i = line.indexOf(':');
      if (i > 0) out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
    }
  }
  return out;
}

export function field(fields: Array<[string, string]>, name: string): string | undefined {
  const n = name.toLowerCase();
  return fields.find(([k]) => k.toLowerCase() === n)?.[1];
}

/**
 * Head and body around the first empty line (CRLF or bare LF line ends), found in the bytes:
 * a text copy of the whole part just to search it would double what a report costs in memory.
 */
function splitHead(buf: Buffer): { head: string; body: Buffer } {
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    const end = buf[i + 1] === 0x0a ? i + 2 : buf[i + 1] === 0x0d && buf[i + 2] === 0x0a ? i + 3 : -1;
    if (end < 0) continue;
    const start = i > 0 && buf[i - 1] === 0x0d ? i - 1 : i;
    return { head: buf.subarray(0, start).toString('utf8'), body: buf.subarray(end) };
  }
  return { head: buf.toString('utf8'), body: Buffer.alloc(0) };
}

function parseContentType(v: string | undefined): { type: string; params: Record<string, string> } {
  const [type, ...rest] = (v ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const i = p.indexOf('=');
    if (i > 0) params[p.slice(0, i).trim().toLowerCase()] = p.slice(i + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

function decode(body: Buffer, cte: string | undefined): Buffer {
  const enc = (cte ?? '').trim().toLowerCase();
  if (enc === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (enc === 'quoted-printable') {
    const s = body.toString('latin1').replace(/=\r?\n/g, '');
    return Buffer.from(s.replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  }
  return body;
}

/** Parses a message's MIME tree: at most 10 levels deep and MAX_PARTS parts in all. */
export function parseMime(buf: Buffer): MimePart {
  return parsePart(buf, 0, { parts: 0 });
}

function parsePart(buf: Buffer, depth: number, budget: { parts: number }): MimePart {
  budget.parts++;
  const { head, body } = splitHead(buf);
  const headers = parseFields(head);
  const { type, params } = parseContentType(field(headers, 'content-type'));
  const part: MimePart = { headers, contentType: type, params, body, children: [] };
  const boundary = params.boundary;
  if (type.startsWith('multipart/') && boundary && boundary.length <= MAX_BOUNDARY && depth < 10) {
    const text = body.toString('latin1');
    const delim = `--${boundary}`;
    const pieces = text.split(new RegExp(`(?:^|\\r?\\n)${delim.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    for (const piece of pieces.slice(1)) {
      if (piece.startsWith('--') || budget.parts >= MAX_PARTS) break;
      const content = piece.replace(/^[ \t]*\r?\n/, '');
      part.children.push(parsePart(Buffer.from(content, 'latin1'), depth + 1, budget));
    }
  } else {
    part.body = decode(body, field(headers, 'content-transfer-encoding'));
  }
  return part;
}

/** Every part, depth-first. */
export function walk(part: MimePart): MimePart[] {
  return [part, ...part.children.flatMap(walk)];
}

/** Header text with RFC 2047 encoded-words decoded ("=?utf-8?q?Assembl=C3=A9e?=" → "Assemblée").
 * Whitespace between adjacent encoded-words is dropped (§6.2); unknown charsets are left as is. */
export function decodeEncodedWords(value: string): string {
  const word = /=\?([^?\s]{1,40})\?([bqBQ])\?([^?\s]*)\?=/g;
  return value.replace(/(=\?[^?\s]{1,40}\?[bqBQ]\?[^?\s]*\?=)\s+(?==\?)/g, '$1').replace(word, (all, charset: string, enc: string, text: string) => {
    const bytes = enc.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    try {
      return new TextDecoder(charset.split('*')[0]!.toLowerCase()).decode(bytes);
    } catch {
      return all;
    }
  });
}
