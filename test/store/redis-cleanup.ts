/** Tests share the real Redis: drop every key of a test prefix afterwards. */
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
