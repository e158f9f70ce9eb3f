/**
 * Open the store: Redis when a URL is configured (see redis-url.ts for the accepted forms), else
 * the embedded LMDB store under <dataDir>/store. Keys are namespaced with `prefix` (default
 * "relais:") so several installations or test runs can share one Redis.
 */
import type { Store } from './types.js';

export interface OpenStoreOptions {
  redisUrl?: string;
  dataDir: string;
  prefix?: string;
  /** Redis: give up connecting (openStore rejects with StoreUnavailableError) after this. Default 2000. */
  connectTimeoutMs?: number;
  /** Redis: a command not answered within this rejects with StoreUnavailableError. Default 2000. */
  commandTimeoutMs?: number;
  /** Redis: start even when Redis is unreachable (calls fail until it is back) instead of rejecting. */
  lazy?: boolean;
}

export const DEFAULT_PREFIX = 'relais:';

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  if (/[{}]/.test(prefix)) throw new Error('store prefix must not contain { or } (reserved for Redis hash tags)');
  // Each backend is loaded only when used: a node on the embedded store does not carry ioredis
  // (~20 MiB of memory), nor a Redis node LMDB.
  if (opts.redisUrl) {
    const { openRedisStore } = await import('./redis-store.js');
    return openRedisStore({ url: opts.redisUrl, prefix, connectTimeoutMs: opts.connectTimeoutMs, commandTimeoutMs: opts.commandTimeoutMs, lazy: opts.lazy });
  }
  const { openLmdbStore } = await import('./lmdb-store.js');
  return openLmdbStore({ dataDir: opts.dataDir, prefix });
}

export { StoreUnavailableError } from './types.js';
export type { Store } from './types.js';
