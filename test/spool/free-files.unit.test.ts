/**
 * Delivered files kept for reuse (relay/spool/free-files.ts): at most 256 slots, none over 64 KiB,
 * taken one at a time, a name already gone skipped.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FREE_MAX_BYTES, FREE_SLOTS, FreeFiles, FreeList } from '../../relay/spool/free-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const root = mkdtempSync(join(tmpdir(), 'relais-free-'));
  dirs.push(root);
  const free = join(root, 'free');
  const messages = join(root, 'messages');
  mkdirSync(free);
  mkdirSync(messages);
  return { free, messages };
}

describe('free spool files', () => {
  it('keeps at most 256 files, the newest in each slot, and refuses files over 64 KiB', () => {
    const { free, messages } = setup();
    const ff = new FreeFiles(free);
    for (let i = 0; i < FREE_SLOTS + 4; i++) {
      const p = join(messages, `M${i}.eml`);
      writeFileSync(p, `message ${i}`);
      expect(ff.recycle(p, 10)).toBe(true);
    }
    expect(readdirSync(free)).toHaveLength(FREE_SLOTS);
    // Slot 0 went round: it holds message 256, the older file was replaced.
    expect(readFileSync(join(free, '0'), 'utf8')).toBe(`message ${FREE_SLOTS}`);
    const big = join(messages, 'BIG.eml');
    writeFileSync(big, 'x');
    expect(ff.recycle(big, FREE_MAX_BYTES + 1)).toBe(false);
    expect(readdirSync(messages)).toEqual(['BIG.eml']);
  });

  it('hands each free file out once, synchronously or on the pool, and says when there is none', async () => {
    const { free, messages } = setup();
    writeFileSync(join(free, '3'), 'a');
    writeFileSync(join(free, '7'), 'b');
    writeFileSync(join(free, 'stray.tmp'), 'not a slot');
    const list = new FreeList(free);
    const t = Date.now();
    expect(list.takeSync(join(messages, 'A.eml'), t)).toBe(true);
    expect(await list.take(join(messages, 'B.eml'), t)).toBe(true);
    expect(list.takeSync(join(messages, 'C.eml'), t)).toBe(false);
    expect(readdirSync(messages).sort()).toEqual(['A.eml', 'B.eml']);
    expect(readdirSync(free)).toEqual(['stray.tmp']);
    // Names read but gone meanwhile are skipped; an empty list reads the directory again after
    // 100 ms at the earliest.
    for (const n of ['9', '10', '11']) writeFileSync(join(free, n), n);
    expect(list.takeSync(join(messages, 'D.eml'), t + 50)).toBe(false);
    const again = new FreeList(free);
    expect(again.takeSync(join(messages, 'E.eml'), t)).toBe(true);
    for (const n of readdirSync(free)) rmSync(join(free, n));
    expect(again.takeSync(join(messages, 'F.eml'), t)).toBe(false);
    writeFileSync(join(free, '12'), '12');
    expect(again.takeSync(join(messages, 'G.eml'), t + 50)).toBe(false);
    expect(again.takeSync(join(messages, 'G.eml'), t + 150)).toBe(true);
    expect(readFileSync(join(messages, 'G.eml'), 'utf8')).toBe('12');
  });
});
