/**
 * Anti-spoofing over SMTP: a client allowed for tenant A may use neither B's domain in the
 * envelope (553 5.7.1 at MAIL FROM) nor in From: (553 5.7.1 at end of DATA); display-name tricks
 * are judged on the real address; Unicode look-alike domains never match A's. A message has
 * exactly one From: with an address (550 5.7.1), and every From: is judged wherever it sits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix } from '../store/redis-cleanup.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { line, passwordHash, sendOne, spoolEnvelopes, startPolicyRelay } from './helpers.js';

const CYRILLIC_A = '\u0430';

describe('sender authorisation over SMTP', () => {
  let relay: RelayProcess & { prefix?: string };
  beforeAll(async () => {
    relay = await startPolicyRelay({
      store: 'redis',
      yaml: `
hostname: relais.test
tenants:
  - id: tenant-a
    domains: [a.example, example.org, "société.example"]
  - id: tenant-b
    domains: [b.example]
clients:
  - name: client-a
    password_hash: "${await passwordHash()}"
    tenants: [tenant-a]
`,
    });
  });
  afterAll(async () => {
    await relay?.stop();
    if (relay?.prefix) await dropRedisPrefix([relay.prefix]);
  });

  const send = (m: Parameters<typeof sendOne>[2]) => sendOne(relay.smtpPort, 'client-a', m);

  it("refuses tenant B's domain in the envelope at MAIL FROM with 553 5.7.1 naming the domain", async () => {
    const r = await send({ from: 'ceo@b.example', to: ['x@dest.example'] });
    expect(line(r.mail)).toMatch(/^553 5\.7\.1 Expéditeur non autorisé : .*domaine b\.example \/ Sender not authorised: .*domain b\.example$/);
    expect(r.data).toBeUndefined();
  });

  it("refuses a From: header at B's domain with the envelope at A at end of DATA (553 5.7.1)", async () => {
    const r = await send({ from: 'x@a.example', headerFrom: 'ceo@b.example', to: ['x@dest.example'] });
    expect(r.mail.code).toBe(250);
    expect(line(r.data)).toMatch(/^553 5\.7\.1 .*domaine b\.example \/ .*domain b\.example$/);
  });

  it('judges display names on the real address', async () => {
    const ok = await send({ from: 'x@a.example', headerFrom: '"ceo@b.example" <x@a.example>', to: ['x@dest.example'] });
    expect(line(ok.data)).toMatch(/^250 /);
    const bad = await send({ from: 'x@a.example', headerFrom: 'x@a.example <ceo@b.example>', to: ['x@dest.example'] });
    expect(line(bad.data)).toMatch(/^553 5\.7\.1 .*b\.example/);
    const commented = await send({ from: 'x@a.example', headerFrom: 'x@a.example (ceo@b.example) <ceo@b.example>', to: ['x@dest.example'] });
    expect(commented.data?.code).toBe(553);
    const queued = spoolEnvelopes(relay.dataDir).filter((e) => e.id === ok.queueId);
    expect(queued).toHaveLength(1);
    expect(spoolEnvelopes(relay.dataDir).some((e) => e.id === bad.queueId)).toBe(false);
  });

  it('refuses a Unicode look-alike domain (Cyrillic а) in the envelope and in From:', async () => {
    const lookalike = `ex${CYRILLIC_A}mple.org`;
    const envelope = await send({ from: `x@${lookalike}`, mailParams: 'SMTPUTF8', to: ['x@dest.example'] });
    expect(envelope.mail.code).toBeGreaterThanOrEqual(500);
    // The answer shows the look-alike next to its ASCII form, so a human sees the trick.
    expect(line(envelope.mail)).toMatch(new RegExp(`^553 5\\.7\\.1 .*domaine ${lookalike} \\(xn--exmple-4nf\\.org\\)`));
    const punycode = await send({ from: 'x@xn--exmple-4nf.org', to: ['x@dest.example'] });
    expect(line(punycode.mail)).toMatch(/^553 5\.7\.1 .*xn--exmple-4nf\.org/);
    const header = await send({ from: 'x@example.org', headerFrom: `Boss <boss@${lookalike}>`, to: ['x@dest.example'], mailParams: 'SMTPUTF8' });
    expect(header.mail.code).toBe(250);
    expect(line(header.data)).toMatch(/^553 5\.7\.1 .*\(xn--exmple-4nf\.org\)/);
    // The genuine domain passes.
    expect((await send({ from: 'x@example.org', to: ['x@dest.example'] })).data?.code).toBe(250);
  });

  it('matches an internationalised tenant domain in its Unicode and punycode forms, and refuses its look-alike', async () => {
    expect(line((await send({ from: 'x@société.example', mailParams: 'SMTPUTF8', to: ['x@dest.example'] })).data)).toMatch(/^250 /);
    expect(line((await send({ from: 'x@xn--socit-esab.example', to: ['x@dest.example'] })).data)).toMatch(/^250 /);
    const lookalike = await send({ from: `x@soci\u00e9t\u0435.example`, mailParams: 'SMTPUTF8', to: ['x@dest.example'] });
    expect(lookalike.mail.code).toBe(553);
  });

  it('wants exactly one From: with an address: 550 5.7.1 (French then English), not queued', async () => {
    const cases = [
      { headerFrom: 'x@a.example', extraHeaders: ['From: ceo@b.example'], why: /\(2 en-têtes From:\) \/ .*\(2 From: headers\)$/ },
      { headerFrom: 'x@a.example', extraHeaders: ['From: y@a.example'], why: /\(2 en-têtes From:\)/ },
      { headerFrom: null, why: /\(aucun en-tête From:\) \/ .*\(no From: header\)$/ },
      { headerFrom: 'Undisclosed sender', why: /\(l’en-tête From: ne contient aucune adresse\) \/ .*\(the From: header has no address\)$/ },
    ];
    for (const c of cases) {
      const r = await send({ from: 'x@a.example', to: ['x@dest.example'], headerFrom: c.headerFrom, extraHeaders: c.extraHeaders });
      expect(r.mail.code).toBe(250);
      expect(line(r.data)).toMatch(/^550 5\.7\.1 Le message doit avoir exactement un en-tête From: avec une adresse .* \/ The message must have exactly one From: header with an address /);
      expect(line(r.data)).toMatch(c.why);
      expect(r.queueId).toBeUndefined();
    }
  });

  it('judges a From: far down the header section, and refuses a header section past 1 MiB whole', async () => {
    const pad = (n: number) => Array.from({ length: n }, (_, i) => `X-Pad-${i}: ${'p'.repeat(900)}`);
    // One From:, foreign, after 900 KiB of other headers.
    const far = await send({ from: 'x@a.example', to: ['x@dest.example'], headerFrom: null, extraHeaders: [...pad(1000), 'From: ceo@b.example'] });
    expect(line(far.data)).toMatch(/^553 5\.7\.1 .*b\.example/);
    // Past smtp.max_header_size, nothing is read or kept: 552 5.3.4, never signed nor queued.
    const past = await send({ from: 'x@a.example', to: ['x@dest.example'], headerFrom: null, extraHeaders: [...pad(1200), 'From: ceo@b.example'] });
    expect(line(past.data)).toMatch(/^552 5\.3\.4 /);
    expect(past.queueId).toBeUndefined();
  });
});
