/** Real stores for the stats tests: Redis at 127.0.0.1:6379 with a unique prefix, LMDB in a temp dir. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type OpenStoreOptions } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

export interface StoreKind {
  name: 'redis' | 'lmdb';
  /** Options for opening (possibly several connections to) the same store. */
  options(): OpenStoreOptions;
}

const dirs: string[] = [];

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'relais-stats-'));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export const STORE_KINDS: StoreKind[] = [
  { name: 'redis', options: () => ({ redisUrl: REDIS_URL, dataDir: tempDir(), prefix: `test:stats:${randomBytes(6).toString('hex')}:` }) },
  { name: 'lmdb', options: () => ({ dataDir: tempDir(), prefix: `test:stats:${randomBytes(6).toString('hex')}:` }) },
];

export async function openTestStore(opts: OpenStoreOptions): Promise<Store> {
  return openStore(opts);
}

/** Remove every stats key written by a test (Redis keys would otherwise linger until their TTL). */
export async function clearStats(store: Store): Promise<void> {
  for (const k of await store.scanKeys('stats:')) await store.deleteValue(k);
}
