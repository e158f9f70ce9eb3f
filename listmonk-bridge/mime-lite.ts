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

export const REPORT_MAX_BYTES = 2 * 1024 * 1024;

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

function splitHead(buf: Buffer): { head: string; body: Buffer } {
  const m = /\r?\n\r?\n/.exec(buf.toString('latin1'));
  if (!m) return { head: buf.toString('utf8'), body: Buffer.alloc(0) };
  return { head: buf.subarray(0, m.index).toString('utf8'), body: buf.subarray(m.index + m[0].length) };
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

export function parseMime(buf: Buffer, depth = 0): MimePart {
  const { head, body } = splitHead(buf);
  const headers = parseFields(head);
  const { type, params } = parseContentType(field(headers, 'content-type'));
  const part: MimePart = { headers, contentType: type, params, body, children: [] };
  if (type.startsWith('multipart/') && params.boundary && depth < 10) {
    const text = body.toString('latin1');
    const delim = `--${params.boundary}`;
    const pieces = text.split(new RegExp(`(?:^|\\r?\\n)${delim.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    for (const piece of pieces.slice(1)) {
      if (piece.startsWith('--')) break;
      const content = piece.replace(/^[ \t]*\r?\n/, '');
      part.children.push(parseMime(Buffer.from(content, 'latin1'), depth + 1));
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
