import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createBounceFeedback, parseArf, parseDsn, makeReturnPath, parseReturnPath, type BounceFeedback } from '../../listmonk-bridge/bounce-feedback.js';
import type { Store } from '../../src/store/types.js';
import { startFakeListmonk, type FakeListmonk } from './listmonk-server.js';
import { openTestStore, testLogger, waitFor } from './helpers.js';

const sample = (name: string) => new URL(`../fixtures/listmonk/reports/${name}`, import.meta.url).pathname;
const CAMPAIGN = '1d6c3d1e-7f5a-4d2b-9b0e-3c1a2f4e5d6c';

describe('bounce feedback outbox', () => {
  let lm: FakeListmonk;
  let store: Store;
  let fb: BounceFeedback;
  const make = () =>
    createBounceFeedback({
      store, log: testLogger(), retry: { backoffMs: 10, maxBackoffMs: 20 }, pollMs: 10,
      resolveTenant: async (id) => (id === 'laruche' ? { url: lm.url, user: lm.user, token: lm.token } : null),
    });

  beforeEach(async () => {
    lm = await startFakeListmonk();
    store = await openTestStore('redis');
    fb = make();
  });
  afterEach(async () => {
    await fb.worker.stop();
    await store.close();
    await lm.close();
    expect(lm.violations).toEqual([]);
  });

  it('posts each event exactly once, after a failed first attempt', async () => {
    await lm.fail({ mode: '500', match: 'POST /webhooks/bounce', times: 1 });
    const ev = {
      tenantId: 'laruche', key: 'Q1:jean@example.net:dsn', email: 'Jean@Example.net', campaign_uuid: CAMPAIGN, type: 'hard' as const,
      meta: { status: '5.1.1', remote_reply: '550 5.1.1 User unknown', remote_mta: 'mx.example.net' },
    };
    expect((await fb.report(ev)).queued).toBe(true);
    expect((await fb.worker.runOnce()).failed).toBe(1);
    const st = await fb.worker.status();
    expect(st.pending).toHaveLength(1);
    expect(st.pending[0]).toMatchObject({ attempts: 1, type: 'hard', email: 'jean@example.net' });
    expect(st.pending[0].lastError).toBe(`listmonk ${lm.url} POST /webhooks/bounce: 500 injected failure`);
    expect((await fb.report(ev)).queued).toBe(false); // same event reported again (e.g. DSN seen twice)
    await waitFor(async () => (await fb.worker.runOnce()).done === 1);
    await fb.worker.runOnce();
    expect(lm.bounces).toHaveLength(1);
    expect(lm.bounces[0]).toMatchObject({
      email: 'jean@example.net', campaign_uuid: CAMPAIGN, type: 'hard', source: 'relais',
      meta: { status: '5.1.1', remote_reply: '550 5.1.1 User unknown', remote_mta: 'mx.example.net' },
    });
    expect(lm.calls('POST /webhooks/bounce')).toHaveLength(2);
    expect((await fb.report(ev)).queued).toBe(false); // still remembered after success
    expect(await fb.worker.status()).toEqual({ pending: [] });
  });

  it('two nodes draining the same outbox post once', async () => {
    const other = make();
    const subs = [0, 1, 2, 3, 4].map((i) => `00000000-0000-4000-8000-00000000000${i}`);
    for (const [i, s] of subs.entries()) await fb.report({ tenantId: 'laruche', subscriber_uuid: s, type: 'soft', meta: { i } });
    await Promise.all([fb.worker.runOnce(), other.worker.runOnce(), fb.worker.runOnce()]);
    await fb.worker.runOnce();
    await other.worker.runOnce();
    expect(lm.bounces.map((b) => b.subscriber_uuid).sort()).toEqual(subs);
  });

  it('keeps retrying while Listmonk is down, delivers when it is back (background loop)', async () => {
    await lm.fail({ mode: 'down' });
    fb.worker.start();
    await fb.report({ tenantId: 'laruche', email: 'x@example.org', type: 'complaint', meta: { feedback_type: 'abuse' } });
    await waitFor(async () => (await fb.worker.status()).pending[0]?.attempts >= 2);
    expect((await fb.worker.status()).pending[0].lastError).toContain('network error');
    await lm.recover();
    await waitFor(() => lm.bounces.length === 1);
    await waitFor(async () => (await fb.worker.status()).pending.length === 0);
    expect(lm.bounces[0]).toMatchObject({ email: 'x@example.org', type: 'complaint', source: 'relais' });
  });

  it('refuses an event Listmonk would reject; leaves out a UUID Listmonk would refuse (cmd/bounce.go)', async () => {
    await expect(fb.report({ tenantId: 'laruche', type: 'hard' })).rejects.toThrow('email or subscriber_uuid');
    await expect(fb.report({ tenantId: 'laruche', subscriber_uuid: 'not-a-uuid', type: 'hard' })).rejects.toThrow('email or subscriber_uuid');
    await expect(fb.report({ tenantId: 'laruche', email: 'a@b.c', type: 'bounce' as never })).rejects.toThrow('invalid bounce type');
    await fb.report({ tenantId: 'laruche', email: 'a@example.org', subscriber_uuid: 'sub-1', campaign_uuid: 'camp-x', type: 'soft' });
    await waitFor(async () => (await fb.worker.runOnce()).done === 1);
    expect(lm.bounces).toHaveLength(1);
    expect(lm.bounces[0].subscriber_uuid).toBeUndefined();
    expect(lm.bounces[0].campaign_uuid).toBeUndefined();
    expect(lm.bounces[0].email).toBe('a@example.org');
  });

  it('webhooks off (404) or a role without webhooks:post_bounce (403): failed with the fix, not retried; retry() after the fix posts once', async () => {
    lm.setBounceSettings({ webhooks: false });
    lm.setPermissions(['lists:get_all']);
    const { id } = await fb.report({ tenantId: 'laruche', email: 'x@example.org', type: 'hard' });
    expect((await fb.worker.runOnce()).failed).toBe(1);
    let [job] = (await fb.worker.status()).pending;
    expect(job.lastError).toBe(`listmonk ${lm.url} POST /webhooks/bounce: 404 Not Found`);
    expect(job.failed?.fix.en).toContain('Enable bounce webhooks');
    expect(job.failed?.fix.fr).toContain('Paramètres → Rebonds');
    await fb.worker.runOnce();
    expect(lm.calls('POST /webhooks/bounce')).toHaveLength(1); // stopped: not retried

    lm.setBounceSettings({ webhooks: true });
    expect(await fb.worker.retry(id)).toBe(true);
    await fb.worker.runOnce();
    [job] = (await fb.worker.status()).pending;
    expect(job.lastError).toBe(`listmonk ${lm.url} POST /webhooks/bounce: 403 permission denied: webhooks:post_bounce`);
    expect(job.failed?.fix.en).toBe("in Listmonk, Users → User roles → the API user's role: tick webhooks:post_bounce and save.");

    lm.setPermissions(['webhooks:post_bounce']);
    await fb.worker.retry(id);
    expect((await fb.worker.runOnce()).done).toBe(1);
    expect(lm.bounces).toHaveLength(1);
    expect(await fb.worker.retry(id)).toBe(false);
  });

  it('bounce processing off with webhooks on (503) is retried like an outage', async () => {
    lm.setBounceSettings({ enabled: false });
    await fb.report({ tenantId: 'laruche', email: 'x@example.org', type: 'soft' });
    await fb.worker.runOnce();
    const [job] = (await fb.worker.status()).pending;
    expect(job).toMatchObject({ attempts: 1, failed: undefined });
    lm.setBounceSettings({ enabled: true });
    await waitFor(async () => (await fb.worker.runOnce()).done === 1);
    expect(lm.bounces).toHaveLength(1);
  });

  it('DSN → feedback: a parsed Postfix DSN becomes hard + soft bounces for the campaign', async () => {
    const dsn = (await parseDsn(createReadStream(sample('postfix-dsn-multi.eml'))))!;
    for (const rcpt of dsn.recipients) {
      await fb.report({
        tenantId: 'laruche', key: `${dsn.originalMessageId}:${rcpt.finalRecipient}`, email: rcpt.finalRecipient,
        campaign_uuid: dsn.campaignUuid, type: rcpt.type!, meta: { status: rcpt.status, diagnostic: rcpt.diagnosticCode, reporting_mta: dsn.reportingMta },
      });
    }
    await fb.worker.runOnce();
    expect(lm.bounces.map((b) => [b.email, b.type, b.campaign_uuid])).toEqual([
      ['jean.dupont@example.net', 'hard', CAMPAIGN],
      ['full@example.net', 'soft', CAMPAIGN],
    ]);
  });
});

describe('DSN parsing (RFC 3464)', () => {
  it('Gmail: nested multipart/related text, folded fields, attached original', async () => {
    const r = (await parseDsn(await readFile(sample('gmail-dsn-hard.eml'))))!;
    expect(r.reportingMta).toBe('googlemail.com');
    expect(r.recipients).toHaveLength(1);
    expect(r.recipients[0]).toMatchObject({ finalRecipient: 'nobody.here@gmail.com', action: 'failed', status: '5.1.1', type: 'hard' });
    expect(r.recipients[0].remoteMta).toMatch(/^gmail-smtp-in\.l\.google\.com\./);
    expect(r.recipients[0].diagnosticCode).toMatch(/^550-5\.1\.1 The email account that you tried to reach does not exist\..*gsmtp$/);
    expect(r.campaignUuid).toBe(CAMPAIGN);
    expect(r.subscriberUuid).toBe('9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d');
    expect(r.originalMessageId).toBe('<a8Hk2LmQ9zXw3RtY5uVb7NcD@laruche.example>');
  });

  it('Postfix: two recipients (5.1.1 hard, 4.2.2 failed → soft), text/rfc822-headers', async () => {
    const r = (await parseDsn(createReadStream(sample('postfix-dsn-multi.eml'))))!;
    expect(r.reportingMta).toBe('mail.example.net');
    expect(r.arrivalDate).toBe('Tue, 10 Jun 2025 17:39:58 +0200 (CEST)');
    expect(r.recipients).toEqual([
      {
        finalRecipient: 'jean.dupont@example.net', originalRecipient: 'Jean.Dupont@example.net', action: 'failed', status: '5.1.1',
        diagnosticCode: '550 5.1.1 <jean.dupont@example.net>: Recipient address rejected: User unknown in virtual mailbox table',
        remoteMta: 'mx.example.net', type: 'hard',
      },
      {
        finalRecipient: 'full@example.net', originalRecipient: 'full@example.net', action: 'failed', status: '4.2.2',
        diagnosticCode: '452 4.2.2 <full@example.net>: Mailbox full', remoteMta: 'mx.example.net', type: 'soft',
      },
    ]);
    expect(r.campaignUuid).toBe(CAMPAIGN); // lower-cased
    expect(r.subscriberUuid).toBe('0f1e2d3c-4b5a-4968-8776-655443322110');
  });

  it('Postfix delay notice → soft', async () => {
    const r = (await parseDsn(await readFile(sample('postfix-dsn-delayed.eml'))))!;
    expect(r.recipients[0]).toMatchObject({ finalRecipient: 'slow@example.org', action: 'delayed', status: '4.4.1', type: 'soft' });
    expect(r.recipients[0].diagnosticCode).toContain('Connection timed out');
    expect(r.campaignUuid).toBeUndefined();
  });

  it('not a DSN → null', async () => {
    expect(await parseDsn('From: a@b.c\r\nSubject: hi\r\n\r\nhello\r\n')).toBeNull();
    expect(await parseDsn(await readFile(sample('rfc5965-arf.eml')))).toBeNull();
  });
});

describe('ARF parsing (RFC 5965)', () => {
  it('Microsoft JMRP style: recipient from X-HmXmrOriginalRecipient, campaign from the attached message', async () => {
    const r = (await parseArf(createReadStream(sample('microsoft-arf.eml'))))!;
    expect(r).toMatchObject({
      feedbackType: 'abuse', userAgent: 'Hotmail FBL', version: '1', sourceIp: '198.51.100.7', reportedDomain: 'laruche.example',
      originalMailFrom: 'bounces+m4n5b6v7@bounce.relais.example', originalRcptTo: [], recipient: 'marie.martin@outlook.com',
      campaignUuid: CAMPAIGN, subscriberUuid: '77665544-3322-4110-8aa9-bbccddeeff00', originalMessageId: '<Qw9eR7tY5uI3oP1aS2dF4gH6@laruche.example>',
    });
    expect(parseReturnPath(r.originalMailFrom!)).toBe('m4n5b6v7');
  });

  it('RFC 5965 example: Original-Rcpt-To wins, text/rfc822-headers', async () => {
    const r = (await parseArf(await readFile(sample('rfc5965-arf.eml'))))!;
    expect(r).toMatchObject({
      feedbackType: 'abuse', originalRcptTo: ['User@example.com'], recipient: 'user@example.com', reportingMta: 'mail.example.com',
      campaignUuid: '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9', originalMailFrom: 'bounces+k1j2h3g4@bounce.relais.example',
    });
    expect(await parseArf(await readFile(sample('gmail-dsn-hard.eml')))).toBeNull();
  });
});

describe('VERP', () => {
  it('round-trips and rejects what is not ours', () => {
    const rp = makeReturnPath('r7k2m9x4', 'Bounce.Relais.example');
    expect(rp).toBe('bounces+r7k2m9x4@bounce.relais.example');
    expect(parseReturnPath(rp)).toBe('r7k2m9x4');
    expect(parseReturnPath(`<${rp.toUpperCase()}>`)).toBe('r7k2m9x4');
    expect(parseReturnPath(rp, 'bounce.relais.example')).toBe('r7k2m9x4');
    expect(parseReturnPath(rp, 'other.example')).toBeNull();
    expect(parseReturnPath('alice@laruche.example')).toBeNull();
    expect(parseReturnPath('bounces+a b@x.org')).toBeNull();
    expect(() => makeReturnPath('Bad/Ref', 'x.org')).toThrow('invalid VERP ref');
  });
});
