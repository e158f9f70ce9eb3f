import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { ListmonkClient, ListmonkError } from '../../listmonk-bridge/client.js';
import { startFakeListmonk, type FakeListmonk } from './listmonk-server.js';
import { PNG_1X1 } from './helpers.js';

describe('Listmonk client against the spec-checking fake', () => {
  let lm: FakeListmonk;
  let client: ListmonkClient;
  beforeAll(async () => {
    lm = await startFakeListmonk();
    client = new ListmonkClient({ url: lm.url, user: lm.user, token: lm.token }, { backoffMs: 5, timeoutMs: 2000 });
  });
  afterEach(async () => {
    await lm.recover();
    expect(lm.violations).toEqual([]);
  });
  afterAll(() => lm.close());

  it('authenticates with "token user:token", sends no cookie, unwraps {data}', async () => {
    expect(await client.health()).toBe(true);
    const req = lm.requests.at(-1)!;
    expect(req.headers.authorization).toBe(`token ${lm.user}:${lm.token}`);
    expect(req.headers.cookie).toBeUndefined();
  });

  it('bad credentials: 403 ListmonkError naming instance and call, never the token', async () => {
    const bad = new ListmonkClient({ url: lm.url, user: lm.user, token: 'wrong-secret-123' });
    const err = await bad.health().catch((e) => e);
    expect(err).toBeInstanceOf(ListmonkError);
    expect(err.status).toBe(403);
    expect(err.message).toBe(`listmonk ${lm.url} GET /api/health: 403 invalid API credentials`);
    expect(err.message).not.toContain('wrong-secret-123');
    expect(lm.calls('GET /api/health').at(-1)!.status).toBe(403);
  });

  it('lists: create, find by exact name, get', async () => {
    const l = await client.createList({ name: 'Relais – alice@laruche.example', type: 'private', optin: 'double' });
    expect(l).toMatchObject({ id: expect.any(Number), optin: 'double' });
    await client.createList({ name: 'Relais – alice@laruche.example.org' });
    expect((await client.findListByName('Relais – alice@laruche.example'))?.id).toBe(l.id);
    expect(await client.findListByName('nope')).toBeNull();
    expect((await client.getList(l.id)).name).toBe(l.name);
  });

  it('lists: a user who may see no list gets Listmonk\'s bare {"data": []}, read as no list (cmd/lists.go)', async () => {
    const hidden = await startFakeListmonk({ permissions: ['lists:manage_all'] });
    try {
      const c = new ListmonkClient({ url: hidden.url, user: hidden.user, token: hidden.token });
      await c.createList({ name: 'Relais – a@b.example' });
      const raw = await fetch(`${hidden.url}/api/lists?minimal=true&per_page=all`, { headers: { Authorization: `token ${hidden.user}:${hidden.token}` } });
      expect(await raw.json()).toEqual({ data: [] });
      expect(await c.findListByName('Relais – a@b.example')).toBeNull();
      expect(await c.queryLists({ minimal: true })).toEqual({ results: [], total: 0 });
    } finally {
      await hidden.close();
    }
  });

  it('subscribers: 409 on a duplicate e-mail returns the existing subscriber; add to lists', async () => {
    const list = await client.createList({ name: 'dup-test', optin: 'double' });
    const a = await client.createSubscriber({ email: 'Bob@Example.org', lists: [list.id], preconfirm_subscriptions: false });
    expect(a.created).toBe(true);
    const b = await client.createSubscriber({ email: 'bob@example.org', lists: [list.id] });
    expect(b).toMatchObject({ created: false, subscriber: { id: a.subscriber.id } });
    expect(lm.calls('POST /api/subscribers').at(-1)!.status).toBe(409);
    const other = await client.createList({ name: 'other' });
    await client.addSubscribersToLists([a.subscriber.id], [other.id], 'unconfirmed');
    expect(lm.subscriptions).toContainEqual({ subscriber_id: a.subscriber.id, list_id: other.id, status: 'unconfirmed' });
    expect(lm.calls('PUT /api/subscribers/lists').at(-1)!.body).toEqual({ ids: [a.subscriber.id], action: 'add', target_list_ids: [other.id], status: 'unconfirmed' });
  });

  it('campaigns are born draft; get and find by tag', async () => {
    const list = await client.createList({ name: 'camp-list' });
    const c = await client.createCampaign({ name: 'n', subject: 's', lists: [list.id], content_type: 'html', body: '<p>x</p>', tags: ['relais', 'relais-abc'] });
    expect(c.status).toBe('draft');
    expect((await client.getCampaign(c.id)).subject).toBe('s');
    expect((await client.findCampaignByTag('relais-abc'))?.id).toBe(c.id);
    // Listmonk reads `tag` (cmd/campaigns.go), not the spec's `tags` (which the stand-in flags)
    expect(lm.calls('GET /api/campaigns').at(-1)!.query).toMatchObject({ tag: ['relais-abc'] });
    expect(await client.findCampaignByTag('relais-none')).toBeNull();
  });

  it('uploads media as multipart "file"', async () => {
    const m = await client.uploadMedia({ filename: 'logo.png', contentType: 'image/png', data: PNG_1X1 });
    expect(m.url).toMatch(/\/uploads\/logo\.png$/);
    const part = lm.calls('POST /api/media').at(-1)!.body[0];
    expect(part).toMatchObject({ name: 'file', filename: 'logo.png', contentType: 'image/png', size: PNG_1X1.length });
  });

  it('retries 5xx with back-off, then succeeds', async () => {
    await lm.fail({ mode: '500', times: 2 });
    const before = lm.calls('GET /api/health').length;
    expect(await client.health()).toBe(true);
    expect(lm.calls('GET /api/health').length - before).toBe(3);
  });

  it('gives up after the retries with the last 5xx', async () => {
    await lm.fail({ mode: '500' });
    const before = lm.calls('GET /api/health').length;
    const c = new ListmonkClient({ url: lm.url, user: lm.user, token: lm.token }, { retries: 2, backoffMs: 1 });
    await expect(c.health()).rejects.toThrow(`listmonk ${lm.url} GET /api/health: 500 injected failure`);
    expect(lm.calls('GET /api/health').length - before).toBe(3);
  });

  it('does not retry a 4xx', async () => {
    const before = lm.calls('POST /api/campaigns').length;
    const err = await client.createCampaign({ name: 'n', subject: 's', lists: [9999] }, { retries: 3 }).catch((e) => e);
    expect(err).toMatchObject({ status: 400, retryable: false });
    expect(lm.calls('POST /api/campaigns').length - before).toBe(1);
  });

  it('times out (AbortSignal) and says so', async () => {
    await lm.fail({ mode: 'slow', delayMs: 400 });
    const c = new ListmonkClient({ url: lm.url, user: lm.user, token: lm.token }, { timeoutMs: 50, retries: 0 });
    await expect(c.health()).rejects.toThrow(`listmonk ${lm.url} GET /api/health: timeout after 50 ms`);
  });

  it('network errors are retried and reported without the token', async () => {
    const c = new ListmonkClient({ url: lm.url, user: lm.user, token: lm.token }, { retries: 1, backoffMs: 1 });
    await lm.fail({ mode: 'close' });
    const err1 = await c.health().catch((e) => e);
    expect(err1.message).toMatch(new RegExp(`^listmonk ${lm.url} GET /api/health: network error`));
    await lm.fail({ mode: 'down' });
    const err2 = await c.postBounce({ email: 'x@y.org', type: 'hard', source: 'relais' }).catch((e) => e);
    expect(err2).toBeInstanceOf(ListmonkError);
    expect(err2.message).toMatch(new RegExp(`^listmonk ${lm.url} POST /webhooks/bounce: network error: ECONNREFUSED`));
    for (const e of [err1, err2]) expect(e.message).not.toContain(lm.token);
  });

  it('instance URLs with credentials are shown without them', async () => {
    const c = new ListmonkClient({ url: `http://u:pw@127.0.0.1:1`, user: 'u', token: 'secret-tok' }, { retries: 0 });
    const err = await c.health().catch((e) => e);
    expect(err.message.startsWith('listmonk http://127.0.0.1:1 GET /api/health')).toBe(true);
  });

  it('the fake flags requests that break the spec', async () => {
    const raw = await fetch(`${lm.url}/api/lists`, {
      method: 'POST',
      headers: { Authorization: `token ${lm.user}:${lm.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'x', optin: 'tripple' }),
    });
    expect(raw.status).toBe(400);
    expect(lm.violations).toHaveLength(1);
    lm.violations.length = 0;
  });
});
