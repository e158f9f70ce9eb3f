/** Reads what a relay left in its spool directory (tests look at the disk, not at internals). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Envelope } from '../../relay/spool/envelope.js';

export function spooledEnvelopes(dataDir: string): Envelope[] {
  const out: Envelope[] = [];
  for (const state of ['active', 'deferred', 'hold']) {
    const dir = join(dataDir, 'spool', state);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.json')) out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Envelope);
  }
  return out;
}

export function spooledBody(dataDir: string, id: string): string {
  return readFileSync(join(dataDir, 'spool', 'messages', `${id}.eml`), 'utf8');
}

export function spoolFileCount(dataDir: string, sub: string): number {
  const dir = join(dataDir, 'spool', sub);
  return existsSync(dir) ? readdirSync(dir).length : 0;
}
