/**
 * The intake's header reader: work linear in the header section's size whatever the chunking,
 * a hard bound (smtp.max_header_size) past which nothing is kept or passed on, and every From:
 * header seen, wherever it sits.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Readable } from 'node:stream';
import { HeaderReader } from '../../relay/intake/header-reader.js';
import { readHeaderBlock } from '../../relay/bounce/header-reader.js';

const MiB = 1024 * 1024;

/** Streams `msg` through a reader in chunks of `chunk` bytes; returns what it passed on. */
async function run(reader: HeaderReader, msg: Buffer, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < msg.length; i += chunk) reader.take(msg.subarray(i, i + chunk), parts);
  reader.end(parts);
  return Buffer.concat(parts);
}

/** About `size` bytes of header lines (X-Pad: 70 characters each), ending with CRLF. */
function padding(size: number): string {
  const line = `X-Pad: ${'p'.repeat(70)}\r\n`;
  return line.repeat(Math.ceil(size / line.length));
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Bytes that Buffer.concat produced from now on (how much the code under test copied). */
function countCopies(): { bytes: number } {
  const counter = { bytes: 0 };
  const concat = Buffer.concat;
  vi.spyOn(Buffer, 'concat').mockImplementation((list: readonly Uint8Array[], total?: number) => {
    const b = concat(list, total);
    counter.bytes += b.length;
    return b;
  });
  return counter;
}

describe('header reader', () => {
  it('reads 1 MiB of headers in 200-byte chunks with work linear in its size (bytes scanned and copied)', async () => {
    const copied = countCopies();
    const head = `From: a@laruche.example\r\n${padding(MiB - 4096)}`;
    const msg = Buffer.from(`${head}\r\nbody\r\n`);
    const reader = new HeaderReader(() => '', undefined, { maxBytes: MiB });
    const out = await run(reader, msg, 200);
    expect(out.equals(msg)).toBe(true);
    expect(reader.oversized).toBe(false);
    // Each byte looked at once (plus the few of a terminator straddling two chunks), copied a
    // bounded number of times: never once per chunk received.
    expect(reader.scanned).toBeLessThanOrEqual(msg.length);
    expect(copied.bytes).toBeLessThanOrEqual(3 * msg.length);
    expect(reader.facts().from).toEqual(['a@laruche.example']);
  });

  it('finds the end of the header section across any chunk boundary', async () => {
    const msg = Buffer.from('From: a@laruche.example\r\nSubject: s\r\n\r\nbody\r\n');
    for (const chunk of [1, 2, 3, 5, 7, msg.length]) {
      const bodies: Buffer[] = [];
      const reader = new HeaderReader(() => 'Date: d\r\n', (c) => bodies.push(c));
      const out = await run(reader, msg, chunk);
      expect(out.toString()).toBe('From: a@laruche.example\r\nSubject: s\r\nDate: d\r\n\r\nbody\r\n');
      expect(Buffer.concat(bodies).toString()).toBe('body\r\n');
      expect(reader.get('subject')).toBe('s');
    }
  });

  it('treats a message starting with an empty line as one without headers, in any chunking', async () => {
    for (const chunk of [1, 100]) {
      const reader = new HeaderReader(() => 'Date: d\r\n');
      const out = await run(reader, Buffer.from('\r\nbody\r\n'), chunk);
      expect(out.toString()).toBe('Date: d\r\n\r\nbody\r\n');
      expect(reader.headers).toEqual([]);
    }
  });

  it('past max_header_size keeps and passes on nothing, and says so', async () => {
    const bodies: Buffer[] = [];
    const reader = new HeaderReader(() => '', (c) => bodies.push(c), { maxBytes: 64 * 1024 });
    const msg = Buffer.from(`From: a@laruche.example\r\n${padding(200 * 1024)}From: ceo@other.example\r\n\r\nbody\r\n`);
    const out = await run(reader, msg, 1000);
    expect(reader.oversized).toBe(true);
    expect(out.length).toBe(0);
    expect(bodies).toEqual([]);
    expect(reader.headers).toEqual([]);
  });

  it('a header section of exactly max_header_size bytes is taken, one byte more is not, in any chunking', async () => {
    const head = `From: a@laruche.example\r\n${padding(8000)}`;
    const size = Buffer.byteLength(head);
    // 1 and size + 1 put a chunk boundary inside the empty line that ends the section.
    for (const chunk of [1, 333, size + 1, size + 2]) {
      const reader = new HeaderReader(() => '', undefined, { maxBytes: size });
      const out = await run(reader, Buffer.from(`${head}\r\nbody\r\n`), chunk);
      expect(reader.oversized).toBe(false);
      expect(out.toString()).toBe(`${head}\r\nbody\r\n`);
      const over = new HeaderReader(() => '', undefined, { maxBytes: size - 1 });
      expect((await run(over, Buffer.from(`${head}\r\nbody\r\n`), chunk)).length).toBe(0);
      expect(over.oversized).toBe(true);
    }
  });

  it('sees every From: header, wherever it sits', async () => {
    const reader = new HeaderReader(() => '');
    await run(reader, Buffer.from(`From: a@laruche.example\r\n${padding(100_000)}From: "Boss" <CEO@other.example>\r\n\r\nbody\r\n`), 4096);
    const f = reader.facts();
    expect(f.fromRaw).toEqual(['a@laruche.example', '"Boss" <CEO@other.example>']);
    expect(f.from).toEqual(['a@laruche.example', 'ceo@other.example']);
  });

  it('parses From: the same with and without the memo (anonymous messages are never cached)', async () => {
    const text = Buffer.from('From: Team: a@x.example, "B" <B@y.example>;\r\n\r\n');
    const a = new HeaderReader(() => '', undefined, { memo: false });
    const b = new HeaderReader(() => '');
    await run(a, text, 10);
    await run(b, text, 10);
    expect(a.facts().from).toEqual(['a@x.example', 'b@y.example']);
    expect(a.facts().from).toEqual(b.facts().from);
  });

  it('the bounce side reads a stored header section the same way: once, whatever the chunking', async () => {
    const copied = countCopies();
    const head = `From: a@laruche.example\r\n${padding(200 * 1024)}`;
    const msg = Buffer.from(`${head}\r\nbody\r\n`);
    const chunks = (size: number) => Readable.from(Array.from({ length: Math.ceil(msg.length / size) }, (_, i) => msg.subarray(i * size, (i + 1) * size)));
    for (const size of [1, 200, 4096, msg.length]) {
      copied.bytes = 0;
      expect((await readHeaderBlock(chunks(size))).toString()).toBe(head);
      expect(copied.bytes).toBeLessThanOrEqual(msg.length);
    }
    expect((await readHeaderBlock(chunks(200), 1000)).length).toBe(1000);
  });
});
