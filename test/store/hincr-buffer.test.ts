/** Buffered hash counters: nothing added is lost across failed flushes, a close, or a flush in flight. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HincrBuffer } from '../../src/store/hincr-buffer.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';

describe('HincrBuffer', () => {
  let store: Store;
  const dir = mkdtempSync(join(tmpdir(), 'relais-hincr-'));
  beforeAll(async () => { store = await openStore({ dataDir: dir, prefix: 'hb:' }); });
  afterAll(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });

  it('counts pending increments, writes them once, and a close waits for a flush in flight', async () => {
    const b = new HincrBuffer(store, { flushIntervalMs: 0 });
    b.add('h1', { a: 1 }, 60_000);
    b.add('h1', { a: 2, b: 1 }, 60_000);
    expect(b.pending('h1')).toEqual({ a: 3, b: 1 });
    const first = b.flush();
    b.add('h1', { a: 10 }, 60_000); // arrives while the first flush is writing
    expect(b.pending('h1')).toEqual({ a: 13, b: 1 });
    await Promise.all([first, b.close()]);
    expect(await store.hgetall('h1')).toEqual({ a: 13, b: 1 });
    expect(b.pending('h1')).toEqual({});
  });

  it('keeps a failed batch for the next flush, and drops the backlog past maxFields', async () => {
    let down = true;
    const flaky: Store = Object.create(store, {
      hincrMany: { value: (e: Parameters<Store['hincrMany']>[0]) => (down ? Promise.reject(new Error('down')) : store.hincrMany(e)) },
    });
    const dropped: number[] = [];
    const b = new HincrBuffer(flaky, { flushIntervalMs: 0, maxFields: 3, onDrop: (n) => dropped.push(n) });
    b.add('h2', { x: 1 }, 60_000);
    await expect(b.flush()).rejects.toThrow('down');
    expect(b.pending('h2')).toEqual({ x: 1 });
    down = false;
    await b.flush();
    expect(await store.hgetall('h2')).toEqual({ x: 1 });
    down = true;
    b.add('h3', { p: 1, q: 1, r: 1, s: 1 }, 60_000);
    await expect(b.flush()).rejects.toThrow('down');
    expect(dropped).toEqual([4]);
    expect(b.pending('h3')).toEqual({});
  });
});
