/**
 * Delivery runs in its own thread, the queue's owner, while the intake's thread receives mail
 * (src/wiring/delivery-worker.ts). Seen from outside: the relay has a thread below the intake's
 * priority, an admin operation on a message just accepted reaches the owner after the message
 * (no lost hold), the admin API reads the owner's state, and the delivery thread's log lines
 * reach stdout whole.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, sendMail, startApiRelay, until, type ApiRelay } from '../api/helpers.js';

let r: ApiRelay;
const admin = (path: string, init: { method?: string; body?: unknown } = {}) => api(r.base, ADMIN_TOKEN, path, init);

beforeAll(async () => {
  // Embedded store: the default a new user gets. The smarthost refuses connections: mail stays queued.
  r = await startApiRelay({ redis: false, env: { RELAIS_ADMIN_TOKEN: ADMIN_TOKEN } });
});
afterAll(async () => {
  await r?.stop();
});

describe('delivery thread', () => {
  it('runs below the intake: one thread of the relay at nice 10 (the AUTH password worker sits at 19), the rest at 0', () => {
    const pid = r.relay.child.pid!;
    const nices = readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Field 19 (nice), counted after the command name in parentheses.
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });
    expect(nices.filter((n) => n === 10)).toHaveLength(1);
    expect(nices.filter((n) => n !== 10 && n !== 0 && n !== 19)).toEqual([]);
  });

  it('an admin hold sent right after the 250 is applied by the queue owner, on disk too', async () => {
    const sent = await Promise.all(Array.from({ length: 5 }, (_, i) => sendMail(r.relay.smtpPort, `hold${i}@collectif-a.org`, 'ami@example.net')));
    expect(sent.map((s) => s.code)).toEqual([250, 250, 250, 250, 250]);
    // No wait between the 250 and the hold: the message may still be on its way to the owner.
    const held = await Promise.all(sent.map((s) => admin(`/api/v1/queue/${s.queueId}/hold`, { method: 'POST' })));
    expect(held.map((h) => h.status)).toEqual([200, 200, 200, 200, 200]);
    for (const s of sent) {
      expect((await admin(`/api/v1/queue/${s.queueId}`)).body).toMatchObject({ state: 'hold', holdReason: 'held by an admin' });
      expect(existsSync(join(r.dataDir, 'spool', 'hold', `${s.queueId}.json`))).toBe(true);
    }
  });

  it('the API shows what the delivery thread did (attempts), and its log lines reach stdout whole', async () => {
    const s = await sendMail(r.relay.smtpPort, 'suivi@collectif-a.org', 'ami@example.net');
    expect(s.code).toBe(250);
    const m = await until(async () => {
      const got = (await admin(`/api/v1/queue/${s.queueId}`)).body;
      return got.state === 'deferred' && got.attempts.length === 1 ? got : null;
    }, 'the first attempt in the API');
    expect(m.recipients[0]).toMatchObject({ address: 'ami@example.net', status: 'deferred', attempts: 1 });
    // Every line is one JSON object: the delivery thread's lines go through the main thread's writer.
    const lines = r.allLogs().filter((l) => l.trim());
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(lines.some((l) => l.includes(s.queueId!) && l.includes('"queue: deferred"'))).toBe(true);
  });

  it('delete through the API removes the message from the owner and from disk', async () => {
    const s = await sendMail(r.relay.smtpPort, 'efface@collectif-a.org', 'ami@example.net');
    expect((await admin(`/api/v1/queue/${s.queueId}`, { method: 'DELETE' })).body).toEqual({ ok: true });
    expect((await admin(`/api/v1/queue/${s.queueId}`)).status).toBe(404);
    expect(existsSync(join(r.dataDir, 'spool', 'messages', `${s.queueId}.eml`))).toBe(false);
  });
});
