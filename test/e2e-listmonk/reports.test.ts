/**
 * Bounces and complaints of newsletter mail reach the tenant's Listmonk, end to end:
 *  - recipients refused by the destination (550 at once, 4xx until expiry) → hard / soft webhook;
 *  - a late DSN or an ARF complaint sent to the VERP return path, by a remote MTA on the inbound
 *    listener (unauthenticated, bounce domain only: no open relay) or forwarded by Mailcow →
 *    hard / complaint webhook, each event posted once, the report never queued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMx, type TestMx } from '../delivery/helpers.js';
import { spooledEnvelopes } from '../helpers/spool-files.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { startFakeListmonk, type FakeListmonk } from '../listmonk/listmonk-server.js';
import {
  BOUNCE_DOMAIN, arfMessage, campaignMessage, clientYaml, dialogue, dsnMessage, listmonkTransport, listmonkYaml, redisProxy,
  sleep, startE2eRelay, transaction, waitUntil, type Creds,
} from './helpers.js';

const CAMPAIGN = 'c0ffee00-1111-4222-8333-444455556666';
const POSTMASTER = 'admin@laruche-admin.example';
const sub = (n: number) => `5ab5c71b-0000-4000-8000-${String(n).padStart(12, '0')}`;
const SENDER = 'lettre@laruche.example';

describe('bounce and complaint feedback to Listmonk', () => {
  let lm: FakeListmonk;
  let mx: TestMx;
  let relay: RelayProcess;
  let proxy: Awaited<ReturnType<typeof redisProxy>>;
  let listmonk: Creds;
  let mailcow: Creds;
  let inboundPort: number;

  /** Sends one campaign message as Listmonk; returns its queue id. */
  async function sendCampaign(to: string, n: number): Promise<string> {
    const t = listmonkTransport(relay.smtpPort, listmonk, 1);
    const info = await t.sendMail(campaignMessage({ from: `La Ruche <${SENDER}>`, to, campaign: CAMPAIGN, subscriber: sub(n) }));
    t.close();
    return /queued as (\S+)/.exec(info.response)![1]!;
  }

  /** The VERP return path the MX saw for a recipient. */
  const returnPathOf = (to: string) => waitUntil(() => mx.received.find((m) => m.to.includes(to))?.from, `delivery to ${to}`);

  const bouncesFor = (email: string) => lm.bounces.filter((b) => b.email === email);

  beforeAll(async () => {
    lm = await startFakeListmonk();
    mx = await startMx('127.0.0.1', await freePort());
    mx.rcpt = (a) => (a.startsWith('inconnu@') ? '550 5.1.1 No such user' : a.startsWith('plein@') ? '452 4.2.2 Mailbox full' : undefined);
    proxy = await redisProxy();
    const lc = await clientYaml('listmonk', { tenants: ['laruche'], newsletter: true });
    const mc = await clientYaml('mailcow', { tenants: ['laruche'] });
    listmonk = lc.creds;
    mailcow = mc.creds;
    relay = await startE2eRelay(
      ['tenants:', '  - id: laruche', '    domains: [laruche.example]', `    listmonk: ${listmonkYaml(lm)}`, 'clients:', lc.yaml, mc.yaml].join('\n'),
      {
        RELAIS_SMARTHOST: `127.0.0.1:${mx.port}`,
        RELAIS_SMARTHOST_TLS: 'none',
        RELAIS_BOUNCE_DOMAIN: BOUNCE_DOMAIN,
        RELAIS_POSTMASTER_FORWARD: POSTMASTER,
        RELAIS_INBOUND_LISTEN: '127.0.0.1:0',
        RELAIS_REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        RELAIS_QUEUE_RETRY_FIRST: '200ms',
        RELAIS_QUEUE_RETRY_MAX: '400ms',
        RELAIS_QUEUE_LIFETIME: '2s',
        RELAIS_QUEUE_DELAY_WARNING: '0s',
      },
    );
    expect(relay.smtpPorts).toHaveLength(2);
    inboundPort = relay.smtpPorts[1]!;
  });
  afterAll(async () => {
    await relay?.stop();
    await proxy?.close();
    await mx?.close();
    await lm?.close();
  });

  it('the inbound listener takes mail for VERP addresses and postmaster@ only: no open relay, no AUTH', async () => {
    const c = await dialogue(inboundPort);
    const ehlo = await c.command('EHLO mta.remote.example');
    expect(ehlo.text).not.toContain('AUTH');
    expect((await c.command('MAIL FROM:<>')).code).toBe(250);
    const relayed = await c.command('RCPT TO:<victim@elsewhere.example>');
    expect(relayed.code).toBe(554);
    expect(relayed.text).toMatch(/^5\.7\.1 .*Relay access denied/);
    expect((await c.command(`RCPT TO:<postmaster@${BOUNCE_DOMAIN}>`)).code).toBe(250); // RFC 5321 §4.5.1
    expect((await c.command('RCPT TO:<Postmaster>')).code).toBe(250); // the same, without a domain
    expect((await c.command('RCPT TO:<abuse>')).code).toBeGreaterThanOrEqual(500); // other bare local parts stay refused
    expect((await c.command(`RCPT TO:<inconnu@${BOUNCE_DOMAIN}>`)).text).toMatch(/^5\.1\.1 /);
    expect((await c.command(`RCPT TO:<bounces+abc@laruche.example>`)).code).toBe(554);
    expect((await c.command(`RCPT TO:<bounces+abc@${BOUNCE_DOMAIN}>`)).code).toBe(250);
    await c.command('RSET');
    // A spammer's sender changes nothing.
    expect((await c.command('MAIL FROM:<spam@spammer.example>')).code).toBe(250);
    expect((await c.command('RCPT TO:<lettre@laruche.example>')).code).toBe(554);
    const data = await c.command('DATA');
    expect(data.code).toBe(503);
    c.close();
    // The submission listener still wants its clients.
    const s = await dialogue(relay.smtpPort);
    expect((await s.command('MAIL FROM:<>')).code).toBe(530);
    s.close();
    expect(spooledEnvelopes(relay.dataDir)).toEqual([]);
  });

  it('posts a hard bounce when the destination refuses a recipient with 550', async () => {
    await sendCampaign('inconnu@lecteurs.example', 1);
    const b = await waitUntil(() => bouncesFor('inconnu@lecteurs.example')[0], 'the hard bounce webhook');
    expect(b).toMatchObject({ type: 'hard', campaign_uuid: CAMPAIGN, subscriber_uuid: sub(1), source: 'relais' });
    expect(b.meta).toMatchObject({ source: 'delivery', status: '5.1.1' });
  });

  it('posts a soft bounce when a 4xx recipient expires', async () => {
    await sendCampaign('plein@lecteurs.example', 2);
    const b = await waitUntil(() => bouncesFor('plein@lecteurs.example')[0], 'the soft bounce webhook');
    expect(b).toMatchObject({ type: 'soft', campaign_uuid: CAMPAIGN, subscriber_uuid: sub(2) });
  });

  it('a late DSN at the VERP address becomes one hard bounce; delayed DSNs are ignored; nothing is queued', async () => {
    await sendCampaign('tardif@lecteurs.example', 3);
    const verp = await returnPathOf('tardif@lecteurs.example');
    expect(verp).toMatch(new RegExp(`^bounces\\+[a-z0-9_-]+@${BOUNCE_DOMAIN.replace(/\./g, '\\.')}$`));
    const original = { from: SENDER, campaign: CAMPAIGN, subscriber: sub(3) };
    const delivered = mx.received.length;

    const c = await dialogue(inboundPort);
    const delayed = await transaction(c, '', [verp], dsnMessage({ to: verp, recipient: 'tardif@lecteurs.example', action: 'delayed', status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full', original }));
    expect(delayed.final?.code).toBe(250);
    const failed = dsnMessage({ to: verp, recipient: 'tardif@lecteurs.example', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 User unknown', original });
    const first = await transaction(c, '', [verp], failed);
    expect(first.final?.code).toBe(250);
    expect(first.final?.text).toMatch(/^2\.0\.0 Rapport reçu \/ Report received/);
    // The remote MTA retries (lost reply): same event, same key.
    const again = await transaction(c, '', [verp], failed);
    expect(again.final?.code).toBe(250);
    c.close();

    const b = await waitUntil(() => bouncesFor('tardif@lecteurs.example')[0], 'the DSN bounce webhook');
    expect(b).toMatchObject({ type: 'hard', campaign_uuid: CAMPAIGN, subscriber_uuid: sub(3) });
    expect(b.meta).toMatchObject({ source: 'dsn', status: '5.1.1', action: 'failed', reporting_mta: 'mx.remote.example' });
    // Log lines reach the test through the child's stdout, a little after the SMTP replies.
    const received = await waitUntil(() => {
      const lines = relay.events().filter((e) => e.msg === 'smtp: report received');
      return lines.length >= 3 ? lines : undefined;
    }, 'three report log lines');
    expect(received).toHaveLength(3);
    expect(spooledEnvelopes(relay.dataDir).filter((e) => e.recipients.some((r) => r.address === verp))).toEqual([]);
    expect(mx.received.slice(delivered).filter((m) => m.to.includes(verp))).toEqual([]);
  });

  it('a complaint (ARF) forwarded by Mailcow with the null sender becomes a complaint', async () => {
    await sendCampaign('grincheux@lecteurs.example', 4);
    const verp = await returnPathOf('grincheux@lecteurs.example');
    const c = await dialogue(relay.smtpPort, mailcow);
    // Mailcow may not use <> for ordinary mail: refused for other recipients, allowed for reports.
    const other = await transaction(c, '', ['someone@elsewhere.example'], 'Subject: x\r\n\r\nx\r\n');
    expect(other.mail.code).toBe(250);
    expect(other.rcpts[0]!.code).toBeGreaterThanOrEqual(500);
    const t = await transaction(c, '', [verp], arfMessage({ to: verp, recipient: 'grincheux@lecteurs.example', original: { from: SENDER, campaign: CAMPAIGN, subscriber: sub(4) } }));
    expect(t.rcpts[0]!.code).toBe(250);
    expect(t.final?.code).toBe(250);
    c.close();
    const b = await waitUntil(() => bouncesFor('grincheux@lecteurs.example')[0], 'the complaint webhook');
    expect(b).toMatchObject({ type: 'complaint', campaign_uuid: CAMPAIGN, subscriber_uuid: sub(4) });
    expect(b.meta).toMatchObject({ source: 'arf', feedback_type: 'abuse' });
  });

  it('an unknown ref is accepted and logged, never bounced back', async () => {
    const verp = `bounces+inconnue0000@${BOUNCE_DOMAIN}`;
    const c = await dialogue(inboundPort);
    const t = await transaction(c, '', [verp], dsnMessage({ to: verp, recipient: 'qui@lecteurs.example', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 User unknown', original: { from: SENDER } }));
    expect(t.final?.code).toBe(250);
    c.close();
    await relay.waitForLog((e) => e.msg === 'inbound report for an unknown VERP ref, dropped' && e.ref === 'inconnue0000');
    expect(bouncesFor('qui@lecteurs.example')).toEqual([]);
  });

  it('answers 451 4.3.0 while the store is down, and takes the report once it is back', async () => {
    await sendCampaign('panne@lecteurs.example', 5);
    const verp = await returnPathOf('panne@lecteurs.example');
    const report = dsnMessage({ to: verp, recipient: 'panne@lecteurs.example', action: 'failed', status: '5.2.1', diagnostic: '550 5.2.1 Mailbox disabled', original: { from: SENDER, campaign: CAMPAIGN, subscriber: sub(5) } });
    await proxy.cut();
    try {
      const c = await dialogue(inboundPort);
      const t = await transaction(c, '', [verp], report);
      expect(t.final?.code).toBe(451);
      expect(t.final?.text).toMatch(/^4\.3\.0 /);
      c.close();
      await waitUntil(() => relay.events().some((e) => e.msg === 'inbound report: store unavailable'), 'the store-unavailable log line');
    } finally {
      await proxy.restore();
    }
    const final = await waitUntil(async () => {
      const c = await dialogue(inboundPort);
      const t = await transaction(c, '', [verp], report);
      c.close();
      return t.final?.code === 250 ? t.final : (await sleep(100), null);
    }, 'the report accepted after the store is back');
    expect(final.code).toBe(250);
    const b = await waitUntil(() => bouncesFor('panne@lecteurs.example')[0], 'the bounce webhook after the outage');
    expect(b).toMatchObject({ type: 'hard', campaign_uuid: CAMPAIGN, subscriber_uuid: sub(5) });
  });

  it('each event reached Listmonk exactly once, within the API spec', async () => {
    await sleep(600); // a duplicate post would be due within the worker's first retry
    const byEmail = new Map<string, number>();
    for (const b of lm.bounces) byEmail.set(b.email, (byEmail.get(b.email) ?? 0) + 1);
    expect(Object.fromEntries(byEmail)).toEqual({
      'inconnu@lecteurs.example': 1,
      'plein@lecteurs.example': 1,
      'tardif@lecteurs.example': 1,
      'grincheux@lecteurs.example': 1,
      'panne@lecteurs.example': 1,
    });
    expect(lm.violations).toEqual([]);
  });

  it('mail to postmaster@ the bounce domain is forwarded, unchanged, to listmonk.postmaster_forward', async () => {
    const c = await dialogue(inboundPort);
    const msg = ['From: Jeanne <jeanne@remote.example>', `To: postmaster@${BOUNCE_DOMAIN}`, 'Subject: Vos envois', 'Message-ID: <pm-1@remote.example>', '', 'Bonjour, une question sur vos envois.', ''].join('\r\n');
    const t = await transaction(c, 'jeanne@remote.example', [`Postmaster@${BOUNCE_DOMAIN.toUpperCase()}`], msg);
    c.close();
    expect(t.final?.code).toBe(250);
    const m = await waitUntil(() => mx.received.find((x) => x.to.includes(POSTMASTER)), 'the forwarded postmaster mail');
    expect(m.to).toEqual([POSTMASTER]);
    expect(m.from).toBe('jeanne@remote.example');
    // "RCPT TO:<Postmaster>" without a domain reaches the same person (RFC 5321 §4.5.1).
    const c2 = await dialogue(inboundPort);
    const bare = await transaction(c2, 'paul@remote.example', ['Postmaster'], msg.replace('pm-1@', 'pm-2@'));
    c2.close();
    expect(bare.final?.code, bare.final?.text).toBe(250);
    const m2 = await waitUntil(() => mx.received.find((x) => x.from === 'paul@remote.example'), 'the forwarded bare Postmaster mail');
    expect(m2.to).toEqual([POSTMASTER]);
  });

  it('forwards at most 10 messages an hour from one address to postmaster@, then answers 450 4.7.1', async () => {
    const msg = ['From: Robot <robot@remote.example>', `To: postmaster@${BOUNCE_DOMAIN}`, 'Subject: Encore', '', 'Encore et encore.', ''].join('\r\n');
    const finals: Array<{ code: number; text: string }> = [];
    for (let i = 0; i < 12; i++) {
      const c = await dialogue(inboundPort);
      const t = await transaction(c, 'robot@remote.example', [`postmaster@${BOUNCE_DOMAIN}`], msg);
      c.close();
      finals.push(t.final!);
      if (t.final!.code !== 250) break;
    }
    const last = finals.at(-1)!;
    expect(last.code).toBe(450);
    expect(last.text).toMatch(/^4\.7\.1 Trop de messages au postmaster.* \/ Too much mail to the postmaster/);
    // Two were forwarded from this address by the test above: ten in all this hour.
    expect(finals.filter((f) => f.code === 250)).toHaveLength(8);
  });
});
