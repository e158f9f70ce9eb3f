/**
 * The embedded store's files hold token hashes and sealed secrets: like the rest of the data
 * dir they are readable by the relay's user only, on a fresh install and on an older one whose
 * files were created world-readable.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => statSync(p).mode & 0o777;

async function openAndList(dataDir: string): Promise<Record<string, number>> {
  const store = await openStore({ dataDir, prefix: 'files:' });
  await store.putDoc('tokens', 'a', { hash: 'x' });
  await store.hincr('h', { f: 1 }, 60_000);
  await store.close();
  const path = join(dataDir, 'store');
  const out: Record<string, number> = { '.': mode(path) };
  for (const f of readdirSync(path)) out[f] = mode(join(path, f));
  return out;
}

describe('LMDB store file modes', () => {
  it('creates the store directory 0700 and every file 0600', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'relais-lmdb-'));
    dirs.push(dataDir);
    const modes = await openAndList(dataDir);
    expect(Object.keys(modes)).toEqual(expect.arrayContaining(['.', 'data.mdb', 'lock.mdb']));
    for (const [f, m] of Object.entries(modes)) expect(m.toString(8), f).toBe(f === '.' ? '700' : '600');
  });

  it('tightens an existing store left readable by others', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'relais-lmdb-'));
    dirs.push(dataDir);
    await openAndList(dataDir);
    const path = join(dataDir, 'store');
    chmodSync(path, 0o755);
    for (const f of readdirSync(path)) chmodSync(join(path, f), 0o644);
    const modes = await openAndList(dataDir);
    for (const [f, m] of Object.entries(modes)) expect(m.toString(8), f).toBe(f === '.' ? '700' : '600');
  });
});
