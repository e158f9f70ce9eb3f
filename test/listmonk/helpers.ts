/** Shared test helpers for the Listmonk bridge: a real store, a quiet logger, message files. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { dropRedisPrefix } from '../store/redis-cleanup.js';

export type StoreKind = 'redis' | 'embedded';

/** A store under a fresh prefix; on Redis, closing it also drops its keys (tests share Redis). */
export async function openTestStore(kind: StoreKind = 'redis'): Promise<Store> {
  const dataDir = await mkdtemp(join(tmpdir(), 'relais-lm-store-'));
  const prefix = `test:lm:${randomUUID()}:`;
  const store = await openStore({ redisUrl: kind === 'redis' ? 'redis://127.0.0.1:6379' : undefined, dataDir, prefix });
  if (kind !== 'redis') return store;
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await dropRedisPrefix([prefix]);
  };
  return store;
}

export interface LogLine {
  level: string;
  obj: object;
  msg?: string;
}

export function testLogger() {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'relais-lm-'));
}

/** Builds a message with nodemailer and writes it after `prefix` bytes (like a spool record header). */
export async function writeMessageFile(mail: ConstructorParameters<typeof MailComposer>[0], prefix = ''): Promise<{ path: string; offset: number; raw: Buffer }> {
  const raw: Buffer = await new MailComposer(mail).compile().build();
  const path = join(await tempDir(), 'msg.eml');
  await writeFile(path, Buffer.concat([Buffer.from(prefix), raw]));
  return { path, offset: Buffer.byteLength(prefix), raw };
}

/** A valid 1×1 PNG. */
export const PNG_1X1 = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

/** Polls until fn returns a truthy value (no timing assertions: the test timeout bounds it). */
export async function waitFor<T>(fn: () => T | Promise<T>, stepMs = 20): Promise<T> {
  for (;;) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
