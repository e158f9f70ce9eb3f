/**
 * Reads the header block of a stored message without reading the whole message: the stream is
 * consumed only up to the first empty line (or a size cap) and then closed.
 */
import type { Readable } from 'node:stream';

export const MAX_HEADER_BYTES = 256 * 1024;

export async function readHeaderBlock(stream: Readable, maxBytes = MAX_HEADER_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // Search from a little before the new chunk: the blank line may straddle two chunks.
      const from = Math.max(0, size - 3);
      chunks.push(chunk);
      size += chunk.length;
      const buf = Buffer.concat(chunks, size);
      const end = headerEnd(buf, from);
      if (end >= 0) return buf.subarray(0, end);
      if (size >= maxBytes) return buf.subarray(0, maxBytes);
      chunks.length = 0;
      chunks.push(buf);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, size);
}

/** Offset just after the header block's last line break, or -1. */
function headerEnd(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length - 1; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a) return i + 1;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 1;
  }
  return -1;
}
