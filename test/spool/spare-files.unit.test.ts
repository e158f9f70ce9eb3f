/**
 * Spool files made ahead (relay/spool/spare-files.ts): only while messages come quickly, one
 * directory fsync per batch, a stock of at most one batch made up once a quarter is taken, oldest
 * id first, never older than their bound, all removed at close.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DirSyncer } from '../../relay/spool/dir-sync.js';
import { SpareFiles } from '../../relay/spool/spare-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'relais-spares-'));
  dirs.push(dir);
  const syncer = new DirSyncer(true);
  const spares = new SpareFiles(dir, (id) => join(dir, `${id}.eml`), syncer, pino({ level: 'silent' }));
  return { dir, syncer, spares };
}

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

describe('spare spool files', () => {
  it('makes none while messages come one at a time', async () => {
    const { dir, spares } = setup();
    const t = Date.now();
    expect(spares.take(t)).toBeUndefined();
    expect(spares.take(t + 1000)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(spares.size).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('makes a batch when messages come quickly, hands out the oldest first, removes the rest at close', async () => {
    const { dir, syncer, spares } = setup();
    const t = Date.now();
    spares.take(t);
    expect(spares.take(t + 10)).toBeUndefined(); // busy: a batch is being made
    await until(() => spares.size > 0);
    expect(spares.size).toBe(32);
    const a = spares.take()!;
    const b = spares.take()!;
    expect(a.id < b.id).toBe(true);
    // An empty file under its queue id, open for writing.
    expect(statSync(join(dir, `${a.id}.eml`)).size).toBe(0);
    // A quarter of the stock taken, it is made up again, never above one batch.
    const taken = [a, b];
    for (let i = 0; i < 6; i++) taken.push(spares.take()!);
    expect(spares.size).toBe(24);
    await until(() => spares.size === 32);
    expect(spares.size).toBe(32);
    expect(readdirSync(dir)).toHaveLength(40);
    spares.close();
    // Those taken belong to their messages now; the rest is gone.
    expect(readdirSync(dir).sort()).toEqual(taken.map((s) => `${s.id}.eml`).sort());
    await syncer.close();
  });

  it('throws away spares older than ten seconds instead of using them', async () => {
    const { dir, syncer, spares } = setup();
    const t = Date.now();
    spares.take(t);
    spares.take(t + 10);
    await until(() => spares.size > 0);
    expect(spares.take(Date.now() + 11_000)).toBeUndefined();
    expect(spares.size).toBe(0);
    await until(() => readdirSync(dir).length === 0);
    expect(readdirSync(dir)).toEqual([]);
    await syncer.close();
  });
});
