import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createRedirector, type Redirector, type RedirectRequest } from '../../listmonk-bridge/redirect.js';
import type { Store } from '../../src/store/types.js';
import { startFakeListmonk, type FakeListmonk, type ListmonkVersion } from './listmonk-server.js';
import { openTestStore, tempDir, testLogger, waitFor, writeMessageFile, type StoreKind } from './helpers.js';

const SENDER = 'alice@laruche.example';

describe.each<StoreKind>(['redis', 'embedded'])('redirect to Listmonk (%s store)', (kind) => {
  let lm: FakeListmonk;
  let store: Store;
  let r: Redirector;
  let log: ReturnType<typeof testLogger>;
  let dataDir: string;

  const tenant = (extra: Record<string, unknown> = {}) => ({
    id: 'laruche',
    listmonk: { url: lm.url, public_url: 'https://listes.laruche.example/', user: lm.user, token: lm.token, ...extra },
  });

  beforeEach(async () => {
    lm = await startFakeListmonk();
    store = await openTestStore(kind);
    log = testLogger();
    dataDir = join(await tempDir(), 'listmonk');
    r = createRedirector({ store, log, dataDir, client: { backoffMs: 1, retries: 1, timeoutMs: 2000 }, retry: { backoffMs: 20, maxBackoffMs: 100 }, pollMs: 20 });
  });
  afterEach(async () => {
    await r.worker.stop();
    await store.close();
    await lm.close();
    expect(lm.violations).toEqual([]);
  });

  async function request(over: Partial<RedirectRequest> = {}): Promise<RedirectRequest> {
    const msg = await writeMessageFile({ from: SENDER, subject: 'Lettre de juin', html: '<p>Bonjour</p>', text: 'Bonjour' }, 'HDR\n');
    return { tenant: tenant(), sender: SENDER, messageId: '<m1@laruche.example>', recipientCount: 50, recipients: ['a@x.org'], messageFile: { path: msg.path, offset: msg.offset }, ...over };
  }

  it('answers 550 5.7.1, French then English, with the count and the Listmonk URL', async () => {
    const v = await r.redirect(await request({ recipientCount: 312 }));
    expect(v.smtp).toMatchObject({ code: 550, enhanced: '5.7.1' });
    const [fr, en] = v.smtp.lines;
    expect(fr).toBe("Message non envoyé : 312 destinataires, c'est un envoi en nombre. Un brouillon vous attend dans Listmonk : https://listes.laruche.example/admin/campaigns");
    expect(en).toBe('Not sent: 312 recipients is a bulk mailing. A draft is waiting for you in Listmonk: https://listes.laruche.example/admin/campaigns');
    expect(v.smtp.text).toBe(`${fr} / ${en}`);
    expect(v.smtp.text).not.toContain(lm.token);
  });

  it('keeps its copy of the message private like the rest of the data dir (0700 directory, 0600 file)', async () => {
    const v = await r.redirect(await request());
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, `${v.draft.jobId}.eml`))).mode & 0o777).toBe(0o600);
  });

  it('decides once per sender + Message-ID: 3 split transactions, 1 draft, 1 list', async () => {
    const base = await request();
    const v1 = await r.redirect({ ...base, recipientCount: 50 });
    const v2 = await r.redirect({ ...base, recipientCount: 100 });
    const v3 = await r.redirect({ ...base, recipientCount: 120 });
    expect([v1.draft.first, v2.draft.first, v3.draft.first]).toEqual([true, false, false]);
    for (const v of [v1, v2, v3]) expect(v.smtp).toMatchObject({ code: 550, enhanced: '5.7.1' });
    expect(v3.smtp.lines[0]).toContain('120 destinataires'); // the running total it was given
    await r.worker.runOnce();
    await r.worker.runOnce();
    expect(lm.campaigns).toHaveLength(1);
    expect(lm.campaigns[0]).toMatchObject({ status: 'draft', subject: 'Lettre de juin', from_email: SENDER, content_type: 'html' });
    expect(lm.lists.map((l) => l.name)).toEqual(['Relais – alice@laruche.example']);
    expect(lm.lists[0]).toMatchObject({ optin: 'double', type: 'private' });
    // a retry of the same message after the draft exists: same answer, still one draft
    const v4 = await r.redirect({ ...base, recipientCount: 120 });
    expect(v4.smtp.text).toBe(v3.smtp.text);
    await r.worker.runOnce();
    expect(lm.campaigns).toHaveLength(1);
    // another message from the same sender reuses the list (found by name)
    await r.redirect({ ...(await request()), messageId: '<m2@laruche.example>' });
    await r.worker.runOnce();
    expect(lm.campaigns).toHaveLength(2);
    expect(lm.lists).toHaveLength(1);
    expect(lm.subscribers).toHaveLength(0); // no import without the tenant's opt-in
    expect(await r.worker.status()).toEqual({ pending: [] });
  });

  it('concurrent transactions of one message still make one draft', async () => {
    const base = await request();
    const vs = await Promise.all([1, 2, 3, 4].map((i) => r.redirect({ ...base, recipientCount: i * 10 })));
    expect(vs.filter((v) => v.draft.first)).toHaveLength(1);
    await r.worker.runOnce();
    expect(lm.campaigns).toHaveLength(1);
  });

  it('Listmonk down: still 550 with the URL; the worker makes the draft once it is back', async () => {
    await lm.fail({ mode: 'down' });
    r.worker.start();
    const v = await r.redirect(await request({ recipientCount: 80 }));
    expect(v.smtp.code).toBe(550);
    expect(v.smtp.text).toContain('https://listes.laruche.example/admin/campaigns');
    const st = (await waitFor(async () => {
      const s = await r.worker.status();
      return s.pending[0]?.attempts >= 2 ? s : null;
    }))!;
    expect(st.pending[0]).toMatchObject({ sender: SENDER, messageId: '<m1@laruche.example>', recipientCount: 80 });
    expect(st.pending[0].lastError).toMatch(new RegExp(`^listmonk ${lm.url} GET /api/lists: network error`));
    expect(JSON.stringify(st)).not.toContain(lm.token);
    await lm.recover();
    await waitFor(async () => (await r.worker.status()).pending.length === 0);
    expect(lm.campaigns).toHaveLength(1);
    expect(lm.campaigns[0].subject).toBe('Lettre de juin');
  });

  it.each(['POST /api/campaigns', 'POST /api/lists'])('a %s whose reply was lost is looked up again, not created twice', async (call) => {
    await lm.fail({ mode: 'drop-reply', match: call, times: 1 });
    await r.redirect(await request());
    expect((await r.worker.runOnce()).done).toBe(1); // the look-up after the lost reply found it
    expect(lm.calls(call)).toHaveLength(1);
    expect(lm.calls(call)[0].status).toBe(200); // created, but Relais did not hear back
    expect(lm.campaigns).toHaveLength(1);
    expect(lm.lists).toHaveLength(1);
  });

  it('misconfigured token: failure visible in status, fixed config (resolveTenant) is used by the retry', async () => {
    let token = 'wrong';
    const r2 = createRedirector({
      store, log, dataDir: await tempDir(), client: { retries: 0 }, retry: { backoffMs: 1, maxBackoffMs: 1 },
      resolveTenant: async () => ({ ...tenant().listmonk, token }),
    });
    await r2.redirect({ ...(await request()), tenant: { id: 'laruche', listmonk: { ...tenant().listmonk, token: 'wrong' } } });
    await r2.worker.runOnce();
    const st = await r2.worker.status();
    expect(st.pending[0].lastError).toBe(`listmonk ${lm.url} GET /api/lists: 403 invalid API credentials`);
    expect(st.pending[0].failed?.fix.en).toContain('listmonk.token');
    await r2.worker.runOnce();
    expect(lm.calls('GET /api/lists')).toHaveLength(1); // permanent: not retried
    token = lm.token;
    expect(await r2.worker.retry(st.pending[0].id)).toBe(true);
    expect((await r2.worker.runOnce()).done).toBe(1);
    expect(lm.campaigns).toHaveLength(1);
  });

  it('import_recipients: unconfirmed subscribers of a double opt-in list, never preconfirmed', async () => {
    // bob already exists in Listmonk (409 path → PUT /api/subscribers/lists)
    const pre = await fetch(`${lm.url}/api/subscribers`, {
      method: 'POST', headers: { Authorization: `token ${lm.user}:${lm.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'bob@example.org', status: 'enabled' }),
    });
    expect(pre.status).toBe(200);
    const base = await request({ tenant: tenant({ import_recipients: true }), recipients: ['Bob@example.org', 'carol@example.org', 'not-an-address'] });
    await r.redirect(base);
    await r.redirect({ ...base, recipients: ['dave@example.org'], recipientCount: 60 }); // 2nd transaction
    await r.worker.runOnce();
    const list = lm.lists.find((l) => l.name === 'Relais – alice@laruche.example');
    expect(list.optin).toBe('double');
    const emails = lm.subscribers.map((s) => s.email).sort();
    expect(emails).toEqual(['bob@example.org', 'carol@example.org', 'dave@example.org']);
    for (const s of lm.subscribers) expect(lm.subscriptions).toContainEqual({ subscriber_id: s.id, list_id: list.id, status: 'unconfirmed' });
    expect(lm.subscriptions.every((x) => x.status === 'unconfirmed')).toBe(true);
    for (const c of lm.calls('POST /api/subscribers').slice(1)) expect(c.body).toMatchObject({ preconfirm_subscriptions: false, lists: [] });
    expect(lm.calls('PUT /api/subscribers/lists')[0].body).toMatchObject({ action: 'add', status: 'unconfirmed' });
    expect(lm.optinMails).toEqual([]); // no opt-in confirmation mail to anyone
    expect(lm.campaigns).toHaveLength(1);
    // the invalid address was skipped (Listmonk 400), not fatal
    expect(log.lines.some((l) => l.msg === 'listmonk refused a recipient')).toBe(true);
  });

  it('import into a configured list refuses a single opt-in list (consent), visibly', async () => {
    const res = await fetch(`${lm.url}/api/lists`, {
      method: 'POST', headers: { Authorization: `token ${lm.user}:${lm.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Newsletter', optin: 'single' }),
    });
    const single = (await res.json()).data;
    await r.redirect(await request({ tenant: tenant({ import_recipients: true, optin_list_id: single.id }), recipients: ['x@example.org'] }));
    await r.worker.runOnce();
    expect(lm.campaigns).toHaveLength(1); // the draft is made regardless
    expect(lm.subscribers).toHaveLength(0);
    const st = await r.worker.status();
    expect(st.pending[0].lastError).toContain('is not double opt-in');
    expect(st.pending[0].failed?.fix.en).toContain('optin_list_id');
    expect(st.pending[0].campaignId).toBe(lm.campaigns[0].id);
  });

  it('without a message file the draft says the content is missing', async () => {
    await r.redirect(await request({ messageFile: undefined }));
    await r.worker.runOnce();
    expect(lm.campaigns[0]).toMatchObject({ content_type: 'plain', subject: '(sans objet / no subject)' });
    expect(lm.campaigns[0].body).toContain("Relais n'a pas reçu le contenu de ce message");
  });
});

/** The role docs/listmonk.md documents, per Listmonk version (listmonk-bridge/check.ts requiredPermissions). */
const README_ROLE: Record<ListmonkVersion, string[]> = {
  'v4.1': ['lists:get_all', 'lists:manage_all', 'campaigns:get', 'campaigns:manage', 'media:get', 'media:manage', 'webhooks:post_bounce', 'subscribers:get', 'subscribers:manage'],
  'v5.1': ['lists:get_all', 'lists:manage_all', 'campaigns:get_all', 'campaigns:manage_all', 'media:get', 'media:manage', 'webhooks:post_bounce', 'subscribers:get_all', 'subscribers:manage', 'subscribers:sql_query'],
  'v6.2': ['lists:get_all', 'lists:manage_all', 'campaigns:get_all', 'campaigns:manage_all', 'media:get', 'media:manage', 'webhooks:post_bounce', 'subscribers:get_all', 'subscribers:manage', 'subscribers:sql_query'],
};

describe.each<ListmonkVersion>(['v4.1', 'v5.1', 'v6.2'])('Listmonk %s with an API user role (not Super Admin)', (version) => {
  let lm: FakeListmonk;
  let store: Store;
  let r: Redirector;
  beforeEach(async () => {
    lm = await startFakeListmonk({ version, permissions: README_ROLE[version] });
    store = await openTestStore('redis');
    r = createRedirector({ store, log: testLogger(), dataDir: await tempDir(), client: { backoffMs: 1, retries: 1, timeoutMs: 2000 }, retry: { backoffMs: 5, maxBackoffMs: 10 } });
  });
  afterEach(async () => {
    await r.worker.stop();
    await store.close();
    await lm.close();
    expect(lm.violations).toEqual([]);
  });
  const req = async (over: Record<string, unknown> = {}): Promise<RedirectRequest> => {
    const msg = await writeMessageFile({ from: SENDER, subject: 'AG', html: '<p>x</p>', attachments: [{ filename: 'réunion.pdf', content: Buffer.from('%PDF-1.4'), contentType: 'application/pdf' }] });
    return { tenant: { id: 'laruche', listmonk: { url: lm.url, user: lm.user, token: lm.token, ...over } }, sender: SENDER, messageId: '<v@laruche.example>', recipientCount: 40, recipients: ['bob@example.org'], messageFile: { path: msg.path } };
  };

  it("the documented role makes the draft (and the import sends no opt-in mail)", async () => {
    await r.redirect(await req({ import_recipients: true }));
    expect((await r.worker.runOnce()).done).toBe(1);
    expect(lm.campaigns).toHaveLength(1);
    expect(lm.media).toHaveLength(1);
    expect(lm.calls('GET /api/campaigns')[0].query).toMatchObject({ tag: [expect.stringMatching(/^relais-/)] });
    expect(lm.subscriptions).toEqual([{ subscriber_id: lm.subscribers[0].id, list_id: lm.lists[0].id, status: 'unconfirmed' }]);
    expect(lm.optinMails).toEqual([]);
  });

  it('a role without lists:get_all: the job fails naming it, is not retried, and after the fix one retry makes exactly one draft and one list', async () => {
    lm.setPermissions(README_ROLE[version].filter((p) => p !== 'lists:get_all'));
    await r.redirect(await req());
    expect((await r.worker.runOnce()).failed).toBe(1);
    const [job] = (await r.worker.status()).pending;
    expect(job.failed?.reason).toContain('lists:get_all missing');
    expect(job.failed?.fix.en).toBe("in Listmonk, Users → User roles → the API user's role: tick lists:get_all and save.");
    await r.worker.runOnce();
    expect(lm.calls('POST /api/lists')).toHaveLength(1);
    lm.setPermissions(README_ROLE[version]);
    expect(await r.worker.retry(job.id)).toBe(true);
    expect((await r.worker.runOnce()).done).toBe(1);
    expect(lm.lists).toHaveLength(1);
    expect(lm.campaigns).toHaveLength(1);
  });

  it('a role without the campaign permission: failed with Listmonk\'s "permission denied" and the permission to tick', async () => {
    const perm = version === 'v4.1' ? 'campaigns:manage' : 'campaigns:manage_all';
    lm.setPermissions(README_ROLE[version].filter((p) => p !== perm));
    await r.redirect(await req());
    await r.worker.runOnce();
    const [job] = (await r.worker.status()).pending;
    expect(job.failed?.reason).toBe(`listmonk ${lm.url} POST /api/campaigns: 403 permission denied: campaigns:manage`);
    expect(job.failed?.fix.fr).toContain('cochez campaigns:manage');
    expect(lm.campaigns).toHaveLength(0);
  });

  it('Listmonk answering 5xx: pending with its last error, retried', async () => {
    await lm.fail({ mode: '500', match: 'GET /api/lists' });
    await r.redirect(await req());
    await r.worker.runOnce();
    const [job] = (await r.worker.status()).pending;
    expect(job).toMatchObject({ failed: undefined, attempts: 1 });
    expect(job.lastError).toContain('500 injected failure');
    await lm.recover();
    await waitFor(async () => (await r.worker.runOnce()).done === 1);
    expect(lm.campaigns).toHaveLength(1);
  });
});

describe.each<ListmonkVersion>(['v5.1', 'v6.2'])('Listmonk %s: an import job of a later transaction', (version) => {
  it('fails on subscribers:sql_query (the 409 look-up), shows under its redirect, and the redirect\'s retry restarts it', async () => {
    const lm = await startFakeListmonk({ version, permissions: README_ROLE[version].filter((p) => p !== 'subscribers:sql_query') });
    const store = await openTestStore('redis');
    const r = createRedirector({ store, log: testLogger(), dataDir: await tempDir(), client: { retries: 0 }, retry: { backoffMs: 5, maxBackoffMs: 10 } });
    try {
      const pre = await fetch(`${lm.url}/api/subscribers`, { method: 'POST', headers: { Authorization: `token ${lm.user}:${lm.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'bob@example.org' }) });
      expect(pre.status).toBe(200);
      const msg = await writeMessageFile({ from: SENDER, subject: 'AG', text: 'x' });
      const base: RedirectRequest = { tenant: { id: 'laruche', listmonk: { url: lm.url, user: lm.user, token: lm.token, import_recipients: true } }, sender: SENDER, messageId: '<imp@laruche.example>', recipientCount: 40, recipients: ['new@example.org'], messageFile: { path: msg.path } };
      const v1 = await r.redirect(base);
      await r.redirect({ ...base, recipients: ['bob@example.org'], recipientCount: 80 });
      await r.worker.runOnce();
      const { pending } = await r.worker.status();
      expect(pending).toHaveLength(1);
      expect(pending[0]).toMatchObject({ kind: 'import', redirectId: v1.draft.jobId });
      expect(pending[0].failed?.reason).toContain('403 Permission denied: subscribers:sql_query');
      expect(pending[0].failed?.fix.en).toContain('tick subscribers:sql_query');
      lm.setPermissions(README_ROLE[version]);
      expect(await r.worker.retry(v1.draft.jobId)).toBe(true);
      expect((await r.worker.runOnce()).done).toBe(1);
      const bob = lm.subscribers.find((s) => s.email === 'bob@example.org');
      expect(lm.subscriptions).toContainEqual({ subscriber_id: bob.id, list_id: lm.lists[0].id, status: 'unconfirmed' });
      expect(lm.optinMails).toEqual([]);
      expect(lm.campaigns).toHaveLength(1);
      expect(lm.violations).toEqual([]);
    } finally {
      await r.worker.stop();
      await store.close();
      await lm.close();
    }
  });
});
