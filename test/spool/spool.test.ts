/** The spool's crash rules, exercised on the files directly (what a crash would leave behind). */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { Spool } from '../../relay/spool/spool.js';
import type { Envelope } from '../../relay/spool/envelope.js';

const log = pino({ level: 'silent' });

async function queueOne(spool: Spool, body: string | Buffer[]): Promise<Envelope> {
  const w = await spool.createWriter();
  if (typeof body === 'string') w.end(body); else for (const b of body) w.write(b);
  const now = Date.now();
  const env: Envelope = {
    id: w.id, rev: 0, state: 'active', from: 'a@x.example', recipients: [{ address: 'b@y.example', status: 'pending', attempts: 0 }],
    receivedAt: now, size: 0, client: { address: '127.0.0.1', tls: false }, nextAttemptAt: now, attempts: [],
  };
  await spool.commit(w, env);
  return env;
}

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('spool', () => {
  const dir = () => join(mkdtempSync(join(tmpdir(), 'relais-spool-')), 'spool');

  it('reads back exactly the message bytes, without the envelope trailer', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, log });
    const env = await queueOne(spool, 'Subject: x\r\n\r\nbody\r\n');
    expect(env.size).toBe(Buffer.byteLength('Subject: x\r\n\r\nbody\r\n'));
    expect(await readAll(spool.openBody(env.id))).toBe('Subject: x\r\n\r\nbody\r\n');
    expect(readFileSync(join(d, 'messages', `${env.id}.eml`), 'utf8')).toMatch(/\n#relais-envelope \d{10}\n$/);
  });

  it('keeps a small committed message in memory for delivery, the same bytes as the file, until removed', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, log });
    const commit = (parts: Buffer[]): Promise<Envelope> => queueOne(spool, parts);
    const small = await commit([Buffer.from('Subject: s\r\n\r\n'), Buffer.from('é body\r\n')]);
    expect(spool.cachedBody(small.id)?.toString()).toBe('Subject: s\r\n\r\né body\r\n');
    expect(await readAll(spool.openBody(small.id, 3))).toBe('ject: s\r\n\r\né body\r\n');
    const onDisk = readFileSync(join(d, 'messages', `${small.id}.eml`));
    expect(onDisk.subarray(0, small.size).equals(spool.cachedBody(small.id)!)).toBe(true);
    // Large messages are read from the file only.
    const big = await commit([Buffer.from('Subject: b\r\n\r\n'), Buffer.alloc(70 * 1024, 'x'), Buffer.from('\r\n')]);
    expect(spool.cachedBody(big.id)).toBeUndefined();
    expect((await readAll(spool.openBody(big.id))).length).toBe(big.size);
    await spool.remove(small.id);
    expect(spool.cachedBody(small.id)).toBeUndefined();
  });

  it('accepting a message writes one file; recovery reads its trailer, ignoring a torn envelope file', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, log });
    const lost = await queueOne(spool, 'Subject: lost\r\n\r\n1\r\n');
    const torn = await queueOne(spool, 'Subject: torn\r\n\r\n2\r\n');
    expect(existsSync(join(d, 'active', `${lost.id}.json`))).toBe(false);
    writeFileSync(join(d, 'active', `${torn.id}.json`), '');
    const again = await Spool.open({ dir: d, log });
    expect(again.get(lost.id)).toMatchObject({ from: 'a@x.example', state: 'active', size: lost.size });
    expect(again.get(torn.id)?.recipients[0]?.address).toBe('b@y.example');
    expect(await readAll(again.openBody(torn.id))).toBe('Subject: torn\r\n\r\n2\r\n');
  });

  it('keeps the newest envelope after a state change, and drops half-written messages and spare files', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, log });
    const env = await queueOne(spool, 'Subject: y\r\n\r\n3\r\n');
    env.recipients[0]!.status = 'deferred';
    await spool.update(env, 'deferred');
    writeFileSync(join(d, 'messages', 'HALFWRITTEN00001.eml'), 'Subject: never acknowledged\r\n');
    writeFileSync(join(d, 'messages', 'SPAREMADEAHEAD01.eml'), '');
    const again = await Spool.open({ dir: d, log });
    expect(again.get(env.id)).toMatchObject({ state: 'deferred', rev: 2 });
    expect(existsSync(join(d, 'active', `${env.id}.json`))).toBe(false);
    expect(again.size).toBe(1);
    expect(existsSync(join(d, 'messages', 'HALFWRITTEN00001.eml'))).toBe(false);
    expect(existsSync(join(d, 'messages', 'SPAREMADEAHEAD01.eml'))).toBe(false);
  });

  it('a message accepted on hold stays on hold after a crash', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, log });
    const w = await spool.createWriter();
    w.end('Subject: held\r\n\r\n5\r\n');
    const now = Date.now();
    await spool.commit(w, { id: w.id, rev: 0, state: 'hold', from: 'a@x.example', recipients: [{ address: 'b@y.example', status: 'pending', attempts: 0 }], receivedAt: now, size: 0, client: { address: '127.0.0.1', tls: false }, nextAttemptAt: now, attempts: [], holdReason: 'guard' });
    const again = await Spool.open({ dir: d, log });
    expect(again.get(w.id)).toMatchObject({ state: 'hold', holdReason: 'guard' });
  });

  it('a removed message never comes back, even if the envelope unlink was lost', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, log });
    const env = await queueOne(spool, 'Subject: z\r\n\r\n4\r\n');
    await spool.update(env); // an envelope file exists once the message has changed state
    const envFile = join(d, 'active', `${env.id}.json`);
    const saved = readFileSync(envFile);
    await spool.remove(env.id);
    writeFileSync(envFile, saved); // as if the crash came between the two unlinks
    const again = await Spool.open({ dir: d, log });
    expect(again.size).toBe(0);
  });

  it('disk full: a short write is never acknowledged, and leaves no file behind', async () => {
    const d = join(mkdtempSync(join(tmpdir(), 'relais-spool-full-')), 'spool');
    mkdirSync(d, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', d]);
    try {
      const spool = await Spool.open({ dir: d, log });
      const outcomes: Array<{ id: string; ok: boolean; code?: string }> = [];
      for (let i = 0; i < 8; i++) {
        const w = await spool.createWriter();
        w.write(Buffer.alloc(50_000, 0x41));
        const now = Date.now();
        try {
          await spool.commit(w, { id: w.id, rev: 0, state: 'active', from: 'a@x.example', recipients: [], receivedAt: now, size: 0, client: { address: '127.0.0.1', tls: false }, nextAttemptAt: now, attempts: [] });
          outcomes.push({ id: w.id, ok: true });
        } catch (err) {
          outcomes.push({ id: w.id, ok: false, code: (err as NodeJS.ErrnoException).code });
        }
      }
      const accepted = outcomes.filter((o) => o.ok);
      expect(accepted.length).toBeGreaterThan(0);
      expect(outcomes.some((o) => !o.ok && o.code === 'ENOSPC')).toBe(true);
      for (const o of accepted) expect(spool.get(o.id)!.size).toBe(50_000);
      // Only acknowledged messages have a file, and each is whole (bytes + trailer). Empty files
      // are spares made ahead for the next messages (spare-files.ts).
      const files = readdirSync(join(d, 'messages'))
        .filter((f) => statSync(join(d, 'messages', f)).size > 0)
        .map((f) => f.replace(/\.eml$/, ''));
      expect(files.sort()).toEqual(accepted.map((o) => o.id).sort());
      for (const o of accepted) expect(statSync(join(d, 'messages', `${o.id}.eml`)).size).toBeGreaterThan(50_000);
      await spool.close();
    } finally {
      execFileSync('umount', ['-l', d]);
    }
  });
});
