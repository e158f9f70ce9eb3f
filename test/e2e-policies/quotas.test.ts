/**
 * Quotas over SMTP against the running relay, with real Redis and with the embedded store:
 * soft limit (451 4.7.1 naming limit, usage and retry time), hard limit (550 5.7.1), recipient
 * limits counting every recipient, and refused messages consuming nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix } from '../store/redis-cleanup.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { line, passwordHash, recipients, sendOne, spoolEnvelopes, startPolicyRelay, type StoreKind } from './helpers.js';

const yaml = (hash: string) => `
hostname: relais.test
tenants:
  - id: ruche
    name: La Ruche
    domains: [a.example]
    mailboxes:
      "quota@a.example": { limits: { messages_per_hour: 5 } }
      "hard@a.example": { limits: { messages_per_hour: { limit: 2, hard: true } } }
      "rcpt@a.example": { limits: { recipients_per_hour: 40 } }
      "spoof@a.example": { limits: { messages_per_hour: 2 } }
  - id: autre
    domains: [b.example]
clients:
  - name: client-a
    password_hash: "${hash}"
    tenants: [ruche]
`;

/**
 * "HH:MM" in the local zone, rounded up to the minute like the relay's answer, "DD/MM HH:MM" when
 * that is not the day of `now` (a retry after midnight).
 */
function clock(t: number, now: number): string {
  const d = new Date(Math.ceil(t / 60_000) * 60_000);
  const two = (n: number) => String(n).padStart(2, '0');
  const today = new Date(now).toDateString() === d.toDateString();
  return `${today ? '' : `${two(d.getDate())}/${two(d.getMonth() + 1)} `}${two(d.getHours())}:${two(d.getMinutes())}`;
}

describe.each<StoreKind>(['redis', 'embedded'])('quotas over SMTP (%s store)', (store) => {
  let relay: RelayProcess & { prefix?: string };
  beforeAll(async () => {
    relay = await startPolicyRelay({ store, yaml: yaml(await passwordHash()) });
  });
  afterAll(async () => {
    await relay?.stop();
    if (relay?.prefix) await dropRedisPrefix([relay.prefix]);
  });

  it('5 messages per hour: the 6th gets 451 4.7.1 naming the limit, the usage and when it frees up (FR then EN)', async () => {
    const first = Date.now();
    for (let i = 0; i < 5; i++) {
      const r = await sendOne(relay.smtpPort, 'client-a', { from: 'quota@a.example', to: ['x@dest.example'] });
      expect(line(r.data)).toMatch(/^250 /);
    }
    const last = Date.now();
    const r = await sendOne(relay.smtpPort, 'client-a', { from: 'quota@a.example', to: ['x@dest.example'] });
    expect(r.data?.code).toBe(451);
    const text = r.data!.text;
    const m = /^4\.7\.1 Quota dépassé : 5 messages\/heure pour quota@a\.example \(5 déjà utilisés\), réessai possible à ((?:\d\d\/\d\d )?\d\d:\d\d) \/ Quota exceeded: 5 messages\/hour for quota@a\.example \(5 already used\), retry after ((?:\d\d\/\d\d )?\d\d:\d\d)$/.exec(text);
    expect(m, text).not.toBeNull();
    expect(m![1]).toBe(m![2]);
    // The oldest of the 5 leaves the hour window between first+1h and last+1h; the time shown is
    // rounded up to the minute ("retry after"), so it may be the minute after.
    const candidates = new Set([clock(first + 3_600_000, last), clock(last + 3_600_000, last), clock(last + 3_660_000, last)]);
    expect(candidates).toContain(m![1]);
    expect(spoolEnvelopes(relay.dataDir).filter((e) => e.from === 'quota@a.example')).toHaveLength(5);
  });

  it('a hard limit answers 550 5.7.1', async () => {
    for (let i = 0; i < 2; i++) expect((await sendOne(relay.smtpPort, 'client-a', { from: 'hard@a.example', to: ['x@dest.example'] })).data?.code).toBe(250);
    const r = await sendOne(relay.smtpPort, 'client-a', { from: 'hard@a.example', to: ['x@dest.example'] });
    expect(line(r.data)).toMatch(/^550 5\.7\.1 Quota dépassé : 2 messages\/heure pour hard@a\.example .*limite stricte.* \/ Quota exceeded: 2 messages\/hour for hard@a\.example .*hard limit/);
    expect(spoolEnvelopes(relay.dataDir).filter((e) => e.from === 'hard@a.example')).toHaveLength(2);
  });

  it('a message with 30 recipients counts 30 recipients', async () => {
    expect((await sendOne(relay.smtpPort, 'client-a', { from: 'rcpt@a.example', to: recipients(30) })).data?.code).toBe(250);
    // 30 used of 40: 11 more do not fit, 10 do.
    const over = await sendOne(relay.smtpPort, 'client-a', { from: 'rcpt@a.example', to: recipients(11, 'other.example') });
    expect(line(over.data)).toMatch(/^451 4\.7\.1 Quota dépassé : 40 destinataires\/heure pour rcpt@a\.example \(30 déjà utilisés\).* \/ Quota exceeded: 40 recipients\/hour for rcpt@a\.example \(30 already used\)/);
    expect((await sendOne(relay.smtpPort, 'client-a', { from: 'rcpt@a.example', to: recipients(10, 'other.example') })).data?.code).toBe(250);
    expect((await sendOne(relay.smtpPort, 'client-a', { from: 'rcpt@a.example', to: ['one@dest.example'] })).data?.code).toBe(451);
    const queued = spoolEnvelopes(relay.dataDir).filter((e) => e.from === 'rcpt@a.example');
    expect(queued.map((e) => e.recipients.length).sort((a, b) => a - b)).toEqual([10, 30]);
  });

  it('a message refused by the From: check consumes no quota', async () => {
    const spoofed = await sendOne(relay.smtpPort, 'client-a', { from: 'spoof@a.example', headerFrom: 'ceo@b.example', to: ['x@dest.example'] });
    expect(line(spoofed.data)).toMatch(/^553 5\.7\.1 .*b\.example/);
    for (let i = 0; i < 2; i++) expect(line((await sendOne(relay.smtpPort, 'client-a', { from: 'spoof@a.example', to: ['x@dest.example'] })).data)).toMatch(/^250 /);
    expect((await sendOne(relay.smtpPort, 'client-a', { from: 'spoof@a.example', to: ['x@dest.example'] })).data?.code).toBe(451);
  });
});
