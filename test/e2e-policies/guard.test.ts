/**
 * Compromised-account guard over SMTP: a mailbox that usually sends one message an hour bursts
 * far above that. Its mail is still answered 250 but lands in the hold queue, and one notice from
 * postmaster (null sender) is queued to the mailbox and the tenant's admins.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hourKey } from '../../policies/guard.js';
import { guardVolumeKey } from '../../policies/service/signals.js';
import { dropRedisPrefix } from '../store/redis-cleanup.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { spooledBody } from '../helpers/spool-files.js';
import { REDIS_URL, Session, line, passwordHash, spoolEnvelopes, startPolicyRelay, uniquePrefix } from './helpers.js';

describe('compromised-account guard', () => {
  const prefix = uniquePrefix('guard');
  let relay: RelayProcess;
  beforeAll(async () => {
    // History: one message an hour over the last five hours.
    const r = new Redis(REDIS_URL);
    const now = Date.now();
    for (let h = 1; h <= 5; h++) await r.hset(prefix + guardVolumeKey('t:ruche', 'burst@a.example'), hourKey(now - h * 3_600_000), 1);
    r.disconnect();
    relay = await startPolicyRelay({
      store: 'redis',
      prefix,
      yaml: `
hostname: relais.test
policies:
  guard: { volume_factor: 10, min_hourly: 10 }
tenants:
  - id: ruche
    domains: [a.example]
    guard: { notify: [admin@a.example] }
clients:
  - name: mailcow
    password_hash: "${await passwordHash()}"
    tenants: [ruche]
`,
    });
  });
  afterAll(async () => {
    await relay?.stop();
    await dropRedisPrefix([prefix]);
  });

  it('holds a burst far above the usual volume and notifies the mailbox once', async () => {
    const s = await Session.open(relay.smtpPort, 'mailcow');
    const ids: string[] = [];
    for (let i = 0; i < 14; i++) {
      const r = await s.send({ from: 'burst@a.example', to: [`r${i}@dest.example`] });
      expect(line(r.data)).toMatch(/^250 /);
      ids.push(r.queueId!);
    }
    await s.close();
    const envs = spoolEnvelopes(relay.dataDir);
    const byId = new Map(envs.map((e) => [e.id, e]));
    // Usual 1/hour, factor 10: the 10th message of the hour is the first held.
    expect(ids.slice(0, 9).map((id) => byId.get(id)?.state)).not.toContain('hold');
    expect(ids.slice(9).map((id) => byId.get(id)?.state)).toEqual(['hold', 'hold', 'hold', 'hold', 'hold']);
    const held = byId.get(ids[9]!)!;
    expect(held.holdReason).toMatch(/10 messages cette heure-ci, contre 1 habituellement \/ 10 messages this hour, usually 1/);
    expect(held.attempts).toEqual([]);

    const notices = envs.filter((e) => e.kind === 'notice');
    expect(notices).toHaveLength(1);
    const n = notices[0]!;
    expect(n.from).toBe('');
    expect(n.recipients.map((r) => r.address).sort()).toEqual(['admin@a.example', 'burst@a.example']);
    const body = spooledBody(relay.dataDir, n.id);
    expect(body).toMatch(/^From: Relais <postmaster@relais\.test>\r$/m);
    expect(body).toMatch(/^Auto-Submitted: auto-generated\r$/m);
    expect(body).toMatch(/^Subject: .*burst@a\.example/m);
  });
});
