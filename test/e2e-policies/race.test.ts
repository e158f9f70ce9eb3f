/**
 * Quota race: three Relais processes share one Redis (same prefix, separate data dirs); twenty
 * concurrent SMTP clients spread over them push 160 messages at a 100-per-day tenant quota.
 * Exactly 100 must be accepted: counted from the 250 answers and from the three spools.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix } from '../store/redis-cleanup.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { Session, passwordHash, spoolEnvelopes, startPolicyRelay, uniquePrefix } from './helpers.js';

const CLIENTS = 20;
const PER_CLIENT = 8;

describe('three relays, one Redis, one quota', () => {
  const prefix = uniquePrefix('race');
  const relays: RelayProcess[] = [];
  beforeAll(async () => {
    const yaml = `
hostname: relais.test
policies:
  guard: { enabled: false }
tenants:
  - id: ruche
    name: La Ruche
    domains: [a.example]
    limits:
      tenant: { messages_per_day: 100 }
clients:
  - name: mailcow
    password_hash: "${await passwordHash()}"
    tenants: [ruche]
`;
    relays.push(...(await Promise.all([0, 1, 2].map(() => startPolicyRelay({ store: 'redis', prefix, yaml })))));
  });
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await dropRedisPrefix([prefix]);
  });

  it('accepts exactly 100 messages', async () => {
    const codes = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const s = await Session.open(relays[c % relays.length]!.smtpPort, 'mailcow');
        const out: Array<{ code: number; text: string }> = [];
        for (let i = 0; i < PER_CLIENT; i++) {
          const r = await s.send({ from: `sender${c}@a.example`, to: [`r${i}@dest.example`] });
          out.push({ code: r.data!.code, text: r.data!.text });
        }
        await s.close();
        return out;
      }),
    );
    const all = codes.flat();
    expect(all).toHaveLength(CLIENTS * PER_CLIENT);
    expect(all.filter((r) => r.code === 250)).toHaveLength(100);
    for (const r of all.filter((x) => x.code !== 250)) {
      expect(r.code).toBe(451);
      expect(r.text).toMatch(/^4\.7\.1 Quota dépassé : 100 messages\/jour pour le collectif La Ruche \(100 déjà utilisés\)/);
    }
    const spooled = relays.map((r) => spoolEnvelopes(r.dataDir).length);
    expect(spooled.reduce((a, b) => a + b, 0)).toBe(100);
    // Every node took its share: the race really ran across processes.
    expect(spooled.every((n) => n > 0)).toBe(true);
  });
});
