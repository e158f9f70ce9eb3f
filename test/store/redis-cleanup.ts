/** Tests share the real Redis: drop every key of a test prefix afterwards. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { Redis } from 'ioredis';

export async function dropRedisPrefix(prefixes: string[]): Promise<void> {
  if (prefixes.length === 0) return;
  const r = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    for (const p of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await r.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    r.disconnect();
  }
}

/** A test file's temp data dirs and Redis key prefixes, all removed after the file's tests. */
export function scratchStores(tag: string): { dir(): string; prefix(): string } {
  const dirs: string[] = [];
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await dropRedisPrefix(prefixes);
  });
  return {
    dir() {
      const d = mkdtempSync(join(tmpdir(), `relais-${tag}-`));
      dirs.push(d);
      return d;
    },
    prefix() {
      const p = `test:${randomBytes(6).toString('hex')}:`;
      prefixes.push(p);
      return p;
    },
  };
}
