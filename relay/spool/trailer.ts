/**
 * The envelope trailer: at commit, the first version of the envelope is appended to the message
 * file after the message bytes, so ONE fsync makes message and envelope durable together (like
 * Postfix's single queue file). The envelope file in active/ is then only written, not fsynced;
 * if a crash loses it, recovery rebuilds it from the trailer. Delivery reads bytes [0, env.size).
 *
 *   <message bytes><envelope JSON>\n#relais-envelope <10-digit JSON length>\n
 */
import { open } from 'node:fs/promises';
import type { Envelope } from './envelope.js';

const TAG = '\n#relais-envelope ';
const FOOTER_LEN = TAG.length + 10 + 1;

export function encodeTrailer(env: Envelope): Buffer {
  const json = Buffer.from(JSON.stringify(env), 'utf8');
  return Buffer.concat([json, Buffer.from(`${TAG}${String(json.length).padStart(10, '0')}\n`, 'ascii')]);
}

/** The envelope stored in a message file's trailer, or null when the file has no valid one. */
export async function readTrailer(path: string): Promise<Envelope | null> {
  let fh;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    if (size < FOOTER_LEN) return null;
    const footer = Buffer.alloc(FOOTER_LEN);
    await fh.read(footer, 0, FOOTER_LEN, size - FOOTER_LEN);
    const text = footer.toString('ascii');
    if (!text.startsWith(TAG) || !text.endsWith('\n')) return null;
    const len = Number(text.slice(TAG.length, TAG.length + 10));
    if (!Number.isInteger(len) || len <= 0 || len > size - FOOTER_LEN) return null;
    const json = Buffer.alloc(len);
    await fh.read(json, 0, len, size - FOOTER_LEN - len);
    const env = JSON.parse(json.toString('utf8')) as Envelope;
    return env.size === size - FOOTER_LEN - len ? env : null;
  } catch {
    return null;
  } finally {
    await fh?.close();
  }
}
