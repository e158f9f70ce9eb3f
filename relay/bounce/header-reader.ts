/**
 * Reads the header section of a stored message without reading the whole message: the stream is
 * consumed only up to the empty line (or a size cap) and then closed. Each byte is looked at once
 * and the chunks are joined once (stored messages are CRLF: the intake normalised them).
 */
import type { Readable } from 'node:stream';
import { HeaderEnd } from '../intake/header-end.js';

export const MAX_HEADER_BYTES = 256 * 1024;

export async function readHeaderBlock(stream: Readable, maxBytes = MAX_HEADER_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const finder = new HeaderEnd();
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const end = finder.find(chunk);
      chunks.push(chunk);
      if (end !== null) return Buffer.concat(chunks, size + chunk.length).subarray(0, Math.min(size + end, maxBytes));
      size += chunk.length;
      if (size >= maxBytes) return Buffer.concat(chunks, size).subarray(0, maxBytes);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, size);
}
