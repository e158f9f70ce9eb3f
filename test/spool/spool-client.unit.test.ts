/**
 * The spool client of the intake's thread (relay/spool/spool-client.ts) against an owner kept in
 * this test: new messages are committed to disk before they are handed over, admin operations
 * carry only the fields they may change, and the client's copy of the index keeps the newest
 * version whatever order the owner's answers and change events arrive in. Also the spool's hold
 * rule: an update asked for during an attempt does not undo a hold set meanwhile.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope, QueueState } from '../../relay/spool/envelope.js';
import { Spool } from '../../relay/spool/spool.js';
import { SpoolClient, type AdminPatch, type QueueOwner } from '../../relay/spool/spool-client.js';
import { holdMessage, releaseMessage } from '../../relay/spool/queue-ops.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function envelope(id: string): Envelope {
  return { id, rev: 0, state: 'active', from: 'a@collectif-a.org', recipients: [{ address: 'b@example.net', status: 'pending', attempts: 0 }], receivedAt: Date.now(), size: 0, client: { address: '127.0.0.1', tls: false }, nextAttemptAt: Date.now(), attempts: [] };
}

/** An owner that records what it is asked and answers like the delivery thread would. */
function recordingOwner() {
  const queued: Array<{ env: Envelope; body?: Buffer }> = [];
  const updates: Array<{ id: string; patch: AdminPatch; state?: QueueState }> = [];
  const owned = new Map<string, Envelope>();
  const owner: QueueOwner = {
    queued(env, body) {
      queued.push({ env: structuredClone(env), body });
      owned.set(env.id, structuredClone(env));
    },
    async update(id, patch, state) {
      updates.push({ id, patch, state });
      const e = owned.get(id);
      if (!e) return null;
      Object.assign(e, patch, { state: state ?? e.state, rev: e.rev + 1 });
      return structuredClone(e);
    },
    async remove(id) {
      owned.delete(id);
    },
  };
  return { owner, queued, updates, owned };
}

async function client() {
  const root = mkdtempSync(join(tmpdir(), 'relais-spool-client-'));
  dirs.push(root);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(root, 'messages'));
  const o = recordingOwner();
  return { root, ...o, spool: new SpoolClient(root, o.owner, log) };
}

async function commit(spool: SpoolClient, text: string): Promise<Envelope> {
  const w = await spool.createWriter();
  w.write(Buffer.from(text));
  const env = envelope(w.id);
  await spool.commit(w, env);
  return env;
}

describe('spool client', () => {
  it('commits the message file (with its trailer) before handing it over, small bodies included', async () => {
    const c = await client();
    const env = await commit(c.spool, 'Subject: x\r\n\r\nbonjour\r\n');
    expect(c.queued).toHaveLength(1);
    expect(c.queued[0]!.env).toMatchObject({ id: env.id, rev: 1, size: 23 });
    expect(c.queued[0]!.body?.toString()).toBe('Subject: x\r\n\r\nbonjour\r\n');
    const file = readFileSync(join(c.root, 'messages', `${env.id}.eml`), 'utf8');
    expect(file.startsWith('Subject: x\r\n\r\nbonjour\r\n')).toBe(true);
    expect(file).toMatch(/#relais-envelope \d{10}\n$/);
    expect(c.spool.get(env.id)).toBe(env);
    expect(c.spool.counts()).toEqual({ active: 1, deferred: 0, hold: 0 });
  });

  it('an admin operation sends only the fields it may change, and the answer updates the copy', async () => {
    const c = await client();
    const env = await commit(c.spool, 'Subject: y\r\n\r\nz\r\n');
    env.recipients[0]!.status = 'delivered'; // never sent: only the owner changes recipients
    await holdMessage(c.spool, env, 'vérification');
    expect(c.updates).toEqual([{ id: env.id, patch: { holdReason: 'vérification', nextAttemptAt: env.nextAttemptAt, notBefore: undefined }, state: 'hold' }]);
    expect(c.owned.get(env.id)!.recipients[0]!.status).toBe('pending');
    expect(c.spool.get(env.id)).toMatchObject({ state: 'hold', rev: 2, holdReason: 'vérification' });
    expect(c.spool.list('hold').map((e) => e.id)).toEqual([env.id]);
  });

  it('keeps the newest version: an older change event after a newer answer is ignored', async () => {
    const c = await client();
    const env = await commit(c.spool, 'Subject: z\r\n\r\nz\r\n');
    const newer = { ...structuredClone(env), rev: 3, state: 'hold' as const, holdReason: 'x' };
    const older = { ...structuredClone(env), rev: 2, state: 'deferred' as const };
    c.spool.apply({ added: [], changed: [newer], removed: [] });
    c.spool.apply({ added: [], changed: [older], removed: [] });
    expect(c.spool.get(env.id)).toMatchObject({ rev: 3, state: 'hold' });
    const seen: string[] = [];
    c.spool.on('removed', (id) => seen.push(id));
    c.spool.on('queued', (e) => seen.push(`queued ${e.id}`));
    c.spool.apply({ added: [{ ...envelope('DSN0000000000001'), rev: 1 }], changed: [], removed: [env.id, 'UNKNOWN000000000'] });
    expect(seen).toEqual(['queued DSN0000000000001', env.id]);
    expect(c.spool.has(env.id)).toBe(false);
    expect(c.spool.size).toBe(1);
  });

  it('a discarded message leaves no file and is never handed over', async () => {
    const c = await client();
    const w = await c.spool.createWriter();
    w.write(Buffer.from('partial'));
    await c.spool.discard(w);
    await c.spool.discard(w); // twice: closes its descriptor once
    expect(readdirSync(join(c.root, 'messages'))).toEqual([]);
    expect(c.queued).toEqual([]);
  });
});

describe('spool hold rule', () => {
  it("an attempt's update asked for after a hold does not move the message out of hold; a release does", async () => {
    const root = mkdtempSync(join(tmpdir(), 'relais-spool-hold-'));
    dirs.push(root);
    const spool = await Spool.open({ dir: root, log, fsync: false });
    const w = await spool.createWriter();
    w.write(Buffer.from('Subject: h\r\n\r\nh\r\n'));
    const env = envelope(w.id);
    await spool.commit(w, env);
    // Both asked before either runs, as when an admin holds a message during its attempt.
    const hold = holdMessage(spool, env, 'admin');
    const attempt = spool.update(env, env.state === 'hold' ? 'hold' : 'deferred');
    await Promise.all([hold, attempt]);
    expect(env.state).toBe('hold');
    expect(readdirSync(join(root, 'hold'))).toEqual([`${env.id}.json`]);
    expect(readdirSync(join(root, 'deferred'))).toEqual([]);
    await releaseMessage(spool, env);
    expect(env.state).toBe('active');
    expect(readdirSync(join(root, 'hold'))).toEqual([]);
    await spool.close();
  });
});
