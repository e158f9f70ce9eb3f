/**
 * Listmonk as a newsletter client, end to end: it logs in like Listmonk (STARTTLS, AUTH LOGIN) and
 * sends a 500-message campaign over its tenant's quota. Nothing is refused: the quota paces the
 * queue (notBefore), the test MX gets the first minute's share at once and the rest later, each
 * with a VERP return path. Campaign mail breaking the bulk-sender rules is flagged or rejected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMx, type TestMx } from '../delivery/helpers.js';
import { spooledEnvelopes } from '../helpers/spool-files.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { startFakeListmonk, type FakeListmonk } from '../listmonk/listmonk-server.js';
import { BOUNCE_DOMAIN, campaignMessage, clientYaml, dkimKey, listmonkTransport, listmonkYaml, sleep, startE2eRelay, waitUntil, type Creds } from './helpers.js';

const CAMPAIGN = '6f1c2a7e-2b51-4b0f-9a33-5d1f0c8e9a01';
const PER_MINUTE = 100;
const TOTAL = 500;
const subscriber = (i: number) => `0b8c${String(i).padStart(4, '0')}-aaaa-4bbb-8ccc-${String(i).padStart(12, '0')}`;

describe('Listmonk sending a campaign through Relais', () => {
  let lm: FakeListmonk;
  let mx: TestMx;
  let relay: RelayProcess;
  let listmonk: Creds;

  beforeAll(async () => {
    lm = await startFakeListmonk();
    mx = await startMx('127.0.0.1', await freePort());
    const client = await clientYaml('listmonk', { tenants: ['laruche', 'strict'], newsletter: true });
    listmonk = client.creds;
    relay = await startE2eRelay(
      [
        'tenants:',
        '  - id: laruche',
        '    domains: [laruche.example]',
        `    newsletter_limits: { tenant: { messages_per_minute: ${PER_MINUTE} } }`,
        `    listmonk: ${listmonkYaml(lm)}`,
        '  - id: strict',
        '    domains: [strict.example]',
        '    newsletter_rules: { action: reject }',
        'clients:',
        client.yaml,
      ].join('\n'),
      { RELAIS_SMARTHOST: `127.0.0.1:${mx.port}`, RELAIS_SMARTHOST_TLS: 'none', RELAIS_BOUNCE_DOMAIN: BOUNCE_DOMAIN, RELAIS_POSTMASTER_FORWARD: 'admin@laruche-admin.example' },
    );
    await dkimKey(relay, 'laruche.example');
    await dkimKey(relay, 'strict.example');
  });
  afterAll(async () => {
    await relay?.stop();
    await mx?.close();
    await lm?.close();
  });

  it(`accepts all ${TOTAL} messages over the quota and paces their delivery (${PER_MINUTE}/min)`, async () => {
    const t = listmonkTransport(relay.smtpPort, listmonk, 5);
    const start = Date.now();
    const infos = await Promise.all(
      Array.from({ length: TOTAL }, (_, i) =>
        t.sendMail(campaignMessage({ from: 'La Ruche <lettre@laruche.example>', to: `abonne${i}@lecteurs.example`, campaign: CAMPAIGN, subscriber: subscriber(i) })),
      ),
    );
    const end = Date.now();
    t.close();
    expect(infos.every((i) => /^250 2\.0\.0 Ok: queued as /.test(i.response))).toBe(true);
    expect(infos.flatMap((i) => i.rejected)).toEqual([]);

    // The first minute's share goes out at once, with a VERP return path per message.
    await waitUntil(() => mx.received.length >= PER_MINUTE, 'the first minute of the campaign at the MX', 30_000);
    for (const m of mx.received) {
      expect(m.from).toMatch(new RegExp(`^bounces\\+[a-z0-9_-]+@${BOUNCE_DOMAIN.replace(/\./g, '\\.')}$`));
      expect(m.raw.toString()).toMatch(/^DKIM-Signature: .*d=laruche\.example/m);
    }
    expect(new Set(mx.received.map((m) => m.from)).size).toBe(mx.received.length);

    // The rest waits in the queue, booked minute after minute (sliding window: the k-th paced
    // message goes when the message booked a full window earlier leaves the window).
    const paced = spooledEnvelopes(relay.dataDir).filter((e) => e.tenant === 'laruche' && e.notBefore !== undefined);
    expect(paced).toHaveLength(TOTAL - PER_MINUTE);
    const times = paced.map((e) => e.notBefore!).sort((a, b) => a - b);
    times.forEach((nb, k) => {
      const minutes = Math.floor(k / PER_MINUTE) + 1;
      expect(nb - minutes * 60_000).toBeGreaterThanOrEqual(start - 1_000);
      expect(nb - minutes * 60_000).toBeLessThanOrEqual(end + 1_000);
    });
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(3 * 60_000 - (end - start) - 2_000);
    for (const e of paced) expect(e.nextAttemptAt).toBeGreaterThanOrEqual(e.notBefore!);
    expect(paced.every((e) => e.listmonk?.campaign === CAMPAIGN && e.returnPath?.endsWith(`@${BOUNCE_DOMAIN}`))).toBe(true);

    // Paced means paced: nothing past the first share reaches the MX while the test watches.
    await sleep(1_500);
    expect(mx.received.filter((m) => m.from !== '')).toHaveLength(PER_MINUTE);
    const queued = await waitUntil(() => {
      const lines = relay.events().filter((e) => e.msg === 'smtp: message queued' && e.client === 'listmonk');
      return lines.length >= TOTAL ? lines : undefined;
    }, 'a log line per accepted message');
    expect(queued.filter((e) => e.reason === 'paced')).toHaveLength(TOTAL - PER_MINUTE);
    expect(relay.events().filter((e) => e.msg === 'smtp: message refused')).toEqual([]);
  }, 60_000);

  it('flags campaign mail without List-Unsubscribe / List-Unsubscribe-Post but accepts it (tenant rule: flag)', async () => {
    const t = listmonkTransport(relay.smtpPort, listmonk, 1);
    const info = await t.sendMail(campaignMessage({ from: 'lettre@laruche.example', to: 'sans-desabo@lecteurs.example', campaign: CAMPAIGN, subscriber: subscriber(9999), noUnsubscribe: true }));
    t.close();
    expect(info.response).toMatch(/^250 /);
    const id = /queued as (\S+)/.exec(info.response)![1];
    const flag = await relay.waitForLog((e) => e.msg === 'newsletter mail breaks bulk-sender rules' && e.queueId === id);
    expect(flag.missing).toBe('List-Unsubscribe, List-Unsubscribe-Post');
    expect(flag.tenant).toBe('laruche');
  });

  it('rejects such mail with 550 5.7.1 when the tenant says newsletter_rules: reject, and accepts compliant mail', async () => {
    const t = listmonkTransport(relay.smtpPort, listmonk, 1);
    const bad = await t
      .sendMail(campaignMessage({ from: 'infos@strict.example', to: 'x@lecteurs.example', campaign: CAMPAIGN, subscriber: subscriber(1), noUnsubscribe: true }))
      .then(() => null, (err: Error & { responseCode?: number; response?: string }) => err);
    expect(bad?.responseCode).toBe(550);
    expect(bad?.response).toMatch(/^550 5\.7\.1 Règles des gros expéditeurs .* List-Unsubscribe, List-Unsubscribe-Post/);
    const good = await t.sendMail(campaignMessage({ from: 'infos@strict.example', to: 'y@lecteurs.example', campaign: CAMPAIGN, subscriber: subscriber(2) }));
    expect(good.response).toMatch(/^250 /);
    t.close();
    await waitUntil(() => relay.events().some((e) => e.msg === 'newsletter mail breaks bulk-sender rules' && e.tenant === 'strict'), 'the bulk-sender rules log line');
    expect(relay.events().filter((e) => e.msg === 'newsletter mail breaks bulk-sender rules' && e.tenant === 'strict')).toHaveLength(1);
    expect(lm.violations).toEqual([]);
  });
});
