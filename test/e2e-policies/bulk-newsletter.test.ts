/**
 * Bulk detection across split transactions (Postfix splits a 120-recipient message into 50 + 50
 * + 20 with the same Message-ID) and newsletter pacing (over quota: accepted, delivered later).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix } from '../store/redis-cleanup.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { Session, line, passwordHash, recipients, sendOne, spoolEnvelopes, startPolicyRelay } from './helpers.js';

describe('bulk and newsletter clients over SMTP', () => {
  let relay: RelayProcess & { prefix?: string };
  beforeAll(async () => {
    const hash = await passwordHash();
    relay = await startPolicyRelay({
      store: 'redis',
      yaml: `
hostname: relais.test
tenants:
  - id: ruche
    domains: [a.example]
    bulk: { recipients_per_message: 100, action: reject }
    newsletter_limits: { tenant: { messages_per_hour: 3 } }
clients:
  - name: mailcow
    password_hash: "${hash}"
    tenants: [ruche]
  - name: listmonk
    password_hash: "${hash}"
    tenants: [ruche]
    newsletter: true
`,
    });
  });
  afterAll(async () => {
    await relay?.stop();
    if (relay?.prefix) await dropRedisPrefix([relay.prefix]);
  });

  it('sums split transactions of one Message-ID: 50 accepted, then 50 and 20 refused with the Listmonk hint', async () => {
    const all = recipients(120);
    const messageId = '<split-120@a.example>';
    // Postfix sends the parts over one connection, one transaction each.
    const s = await Session.open(relay.smtpPort, 'mailcow');
    const first = await s.send({ from: 'ag@a.example', to: all.slice(0, 50), messageId });
    const second = await s.send({ from: 'ag@a.example', to: all.slice(50, 100), messageId });
    const third = await s.send({ from: 'ag@a.example', to: all.slice(100), messageId });
    await s.close();
    expect(line(first.data)).toMatch(/^250 /);
    for (const r of [second, third]) {
      expect(line(r.data)).toMatch(/^550 5\.7\.1 Envoi en nombre refusé \(\d+ destinataires pour un message\) : utilisez la liste de diffusion Listmonk de votre collectif \/ Bulk sending refused \(\d+ recipients for one message\): please use your collective's Listmonk$/);
    }
    expect(second.data!.text).toContain('100 destinataires');
    expect(third.data!.text).toContain('120 destinataires');
    const queued = spoolEnvelopes(relay.dataDir).filter((e) => e.messageId === messageId);
    expect(queued.map((e) => e.recipients.length)).toEqual([50]);
    // Another message of the same sender is judged on its own.
    expect((await sendOne(relay.smtpPort, 'mailcow', { from: 'ag@a.example', to: recipients(20, 'other.example') })).data?.code).toBe(250);
  });

  it('paces a newsletter client over its quota: every message accepted (250), the extra ones scheduled later', async () => {
    const s = await Session.open(relay.smtpPort, 'listmonk');
    const ids: string[] = [];
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      const r = await s.send({
        from: 'news@a.example',
        to: [`sub${i}@dest.example`],
        extraHeaders: ['List-Unsubscribe: <https://listes.a.example/u/1>', 'List-Unsubscribe-Post: List-Unsubscribe=One-Click'],
      });
      expect(line(r.data)).toMatch(/^250 /);
      ids.push(r.queueId!);
    }
    await s.close();
    const envs = ids.map((id) => spoolEnvelopes(relay.dataDir).find((e) => e.id === id)!);
    expect(envs.every((e) => e?.newsletter === true)).toBe(true);
    expect(envs.slice(0, 3).every((e) => e.notBefore === undefined)).toBe(true);
    const paced = envs.slice(3);
    for (const e of paced) {
      // 3 per hour: the 4th can only go once the first is an hour old.
      expect(e.notBefore!).toBeGreaterThan(started + 55 * 60_000);
      expect(e.nextAttemptAt).toBe(e.notBefore);
      expect(e.state).toBe('active');
      expect(e.attempts).toEqual([]); // not tried before its time
    }
    // Paced in order, and no hour ever holds more than 3 (a slot can free several at once: the
    // first three share a granule of the window).
    const times = paced.map((e) => e.notBefore!);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const all = envs.map((e) => e.notBefore ?? e.receivedAt);
    for (const t of all) expect(all.filter((x) => x > t - 3_600_000 && x <= t).length).toBeLessThanOrEqual(3);
    expect(times.at(-1)!).toBeGreaterThan(started + 115 * 60_000); // the 7th and 8th wait a second hour
  });
});
