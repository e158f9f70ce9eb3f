/** Reads what a relay left in its spool directory (tests look at the disk, not at internals). */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Envelope } from '../../relay/spool/envelope.js';

/**
 * Queued envelopes as the running relay leaves them. A state change renames the new envelope in
 * before unlinking the old one, so a message may briefly sit in two state directories (or a file
 * may vanish while read): keep the newest revision of each id, like the spool's recovery does.
 */
export function spooledEnvelopes(dataDir: string): Envelope[] {
  const byId = new Map<string, Envelope>();
  for (const state of ['active', 'deferred', 'hold']) {
    const dir = join(dataDir, 'spool', state);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.json')) continue;
      let env: Envelope;
      try {
        env = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Envelope;
      } catch {
        continue;
      }
      const prev = byId.get(env.id);
      if (!prev || env.rev > prev.rev) byId.set(env.id, env);
    }
  }
  // Accepted messages keep their first envelope in the message file's trailer until they change state.
  const messages = join(dataDir, 'spool', 'messages');
  if (existsSync(messages)) {
    for (const f of readdirSync(messages)) {
      const id = f.replace(/\.eml$/, '');
      if (byId.has(id)) continue;
      const env = trailerOf(join(messages, f));
      if (env && env.id === id) byId.set(id, env);
    }
  }
  return [...byId.values()];
}

function trailerOf(path: string): Envelope | null {
  try {
    const raw = readFileSync(path);
    const m = /\n#relais-envelope (\d{10})\n$/.exec(raw.subarray(-40).toString('latin1'));
    if (!m) return null;
    const end = raw.length - m[0].length;
    return JSON.parse(raw.subarray(end - Number(m[1]), end).toString('utf8')) as Envelope;
  } catch {
    return null;
  }
}

/** The spooled message bytes, without the envelope trailer Relais appends (relay/spool/trailer.ts). */
export function spooledBytes(dataDir: string, id: string): Buffer {
  const raw = readFileSync(join(dataDir, 'spool', 'messages', `${id}.eml`));
  const footer = /\n#relais-envelope (\d{10})\n$/.exec(raw.subarray(-40).toString('latin1'));
  if (!footer) return raw;
  return raw.subarray(0, raw.length - footer[0].length - Number(footer[1]));
}

export function spooledBody(dataDir: string, id: string): string {
  return spooledBytes(dataDir, id).toString('utf8');
}

/**
 * Files in a spool directory. In messages/, empty files are not counted: while mail comes in
 * quickly the relay keeps a few empty files made ahead (relay/spool/spare-files.ts), and a message
 * file is never empty once written (its Received header at least).
 */
export function spoolFileCount(dataDir: string, sub: string): number {
  return spoolFileNames(dataDir, sub).length;
}

export function spoolFileNames(dataDir: string, sub: string): string[] {
  const dir = join(dataDir, 'spool', sub);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => {
    if (sub !== 'messages') return true;
    try {
      return statSync(join(dir, f)).size > 0;
    } catch {
      return false; // removed while listed
    }
  });
}
