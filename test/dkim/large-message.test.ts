/**
 * A 25 MiB message streamed through the hasher into a spool-like file, then signed and verified
 * by both verifiers reading the file as a stream. The hasher must never gather the body: no
 * Buffer.concat larger than the header bound, and external memory stays far below the message size.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { DkimBodyHasher } from '../../relay/dkim/body-hasher.js';
import { signMessage } from '../../relay/dkim/sign.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { mailauthVerify, publish, pythonVerify, rsaKey, ed25519Key, type TestKey } from './helpers/verify.js';

const SIZE = 25 * 1024 * 1024;
// A real gc() so retained memory can be measured (garbage chunks would otherwise blur it).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
let dns: TestDnsServer;
let dir: string;
let rsa: TestKey;
let ed: TestKey;

beforeAll(async () => {
  dns = await startDnsServer({});
  dir = await mkdtemp(join(tmpdir(), 'relais-dkim-'));
  rsa = rsaKey('asso.example', 'big');
  ed = ed25519Key('asso.example', 'bige');
  publish(dns, rsa);
  publish(dns, ed);
});
afterAll(async () => {
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});

/** Yields the message in odd-sized chunks (CRLF often split across chunks), never all at once. */
async function* bigMessage(): AsyncGenerator<Buffer> {
  yield Buffer.from(
    'Received: by relais.example.net; Thu, 26 Nov 2026 10:00:01 +0100\r\n' +
      'From: contact@asso.example\r\nTo: bob@example.net\r\nSubject: Gros envoi — été\r\n' +
      'Date: Thu, 26 Nov 2026 10:00:00 +0100\r\nMessage-ID: <big@asso.example>\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n',
  );
  const line = Buffer.from('Ligne de texte avec  espaces \t et accents : café, crème, à bientôt\u00a0!  \r\n');
  const block = Buffer.alloc(line.length * 1000);
  for (let i = 0; i < 1000; i++) line.copy(block, i * line.length);
  let sent = 0;
  let n = 0;
  while (sent < SIZE) {
    const size = 65_531 + (n++ % 7) * 13; // odd sizes so lines and CRLFs straddle chunks
    const chunk = Buffer.alloc(size);
    for (let o = 0; o < size; o += block.length) block.copy(chunk, o, 0, Math.min(block.length, size - o));
    sent += size;
    yield chunk;
  }
  yield Buffer.from('\r\n\r\n\r\n'); // trailing empty lines are ignored by both canonicalisations
}

it('streams 25 MiB with bounded memory and both signatures verify', async () => {
  const spool = join(dir, 'msg.eml');
  const concat = vi.spyOn(Buffer, 'concat');
  const hasher = new DkimBodyHasher();
  let peakExternal = 0;
  let chunks = 0;
  gc();
  const baseExternal = process.memoryUsage().arrayBuffers;
  hasher.on('data', () => {
    if (++chunks % 50 !== 0) return;
    gc();
    peakExternal = Math.max(peakExternal, process.memoryUsage().arrayBuffers - baseExternal);
  });
  await pipeline(Readable.from(bigMessage()), hasher, createWriteStream(spool));
  const largestConcat = Math.max(0, ...concat.mock.results.map((r) => (r.value as Buffer).length));
  concat.mockRestore();

  const r = hasher.result();
  expect(r.bodyBytes).toBeGreaterThan(SIZE);
  expect(largestConcat).toBeLessThan(64 * 1024);
  expect(chunks).toBeGreaterThan(300);
  expect(peakExternal).toBeLessThan(4 * 1024 * 1024); // retained after GC: a few chunks in flight, not the body
  expect(r.headerBlock!.length).toBeLessThan(1024);

  const lines = await signMessage({ headerBlock: r.headerBlock!, bodyHashes: r.bodyHashes, keys: [rsa.key, ed.key] });
  const signed = join(dir, 'signed.eml');
  await writeFile(signed, lines.join(''), 'latin1');
  await pipeline(createReadStream(spool), createWriteStream(signed, { flags: 'a' }));
  expect((await stat(signed)).size).toBeGreaterThan(SIZE);

  const [py, ma] = await Promise.all([pythonVerify(signed, dns), mailauthVerify(signed, dns)]);
  expect(py.map((x) => x.ok)).toEqual([true, true]);
  expect(ma.map((x) => x.ok)).toEqual([true, true]);
});
