/**
 * The policy service end to end on real stores (Redis with a unique prefix, LMDB in a temp dir).
 */
import { hourKey } from '../../policies/guard.js';
import { describe, it, expect } from 'vitest';
import { scratchStores } from '../store/redis-cleanup.js';
import { openStore, type OpenStoreOptions } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { chargeTime } from '../../src/store/sliding-log.js';
import { TenantDirectory } from '../../src/tenants/index.js';
import { createPolicyService, resolvePolicyConfig, verdictStatsKey, type PolicyService } from '../../policies/service/index.js';
import { SPLIT_START } from '../../policies/service/signals.js';
import type { ClientIdentity, MessageFacts } from '../../policies/types.js';

const scratch = scratchStores('policy');
function storeOptions(redis: boolean): OpenStoreOptions {
  return { redisUrl: redis ? 'redis://127.0.0.1:6379' : undefined, dataDir: scratch.dir(), prefix: scratch.prefix() };
}

const H = 3_600_000;
// Messages carry their own time (clock: 'facts'), but usage readouts are as of now: the start of
// the current hour keeps both in one window (a fixed date stops working an hour after it).
const T0 = Math.floor(Date.now() / H) * H;
/** The mailbox's usual volume: two messages an hour, the previous day. */
const usualHistory = () => ({ [hourKey(T0 - 27 * H)]: 2, [hourKey(T0 - 26 * H)]: 2 });
const seed = {
  tenants: [
    {
      id: 'la-ruche', name: 'La Ruche', domains: ['laruche.example'],
      limits: { mailbox: { messages_per_hour: 3, recipients_per_day: 100 }, tenant: { messages_per_day: { limit: 50, hard: true } } },
      newsletter_limits: { tenant: { messages_per_hour: 2 } },
      mailboxes: { 'ag@laruche.example': { limits: { messages_per_hour: 10, recipients_per_day: 1000 }, bulk: { recipients_per_message: 100 } } },
      bulk: { recipients_per_message: 50, action: 'reject' },
      guard: { notify: ['admin@laruche.example'] },
      listmonk: { url: 'http://127.0.0.1:9000', public_url: 'https://listes.laruche.example', user: 'relais', token: 't' },
    },
    { id: 'autre', domains: ['autre.example'], bulk: { action: 'redirect' } },
  ],
  clients: [
    { name: 'mailcow', password_hash: '$scrypt$x', tenants: ['la-ruche', 'autre'] },
    { name: 'listmonk', password_hash: '$scrypt$y', tenants: ['la-ruche'], newsletter: true },
  ],
};
const mailcow: ClientIdentity = { name: 'mailcow', tenants: ['la-ruche', 'autre'], newsletter: false, address: '10.0.0.2', authenticated: true };
const listmonk: ClientIdentity = { name: 'listmonk', tenants: ['la-ruche'], newsletter: true, address: '10.0.0.3', authenticated: true };

let seq = 0;
function msg(from: string, n: number, now: number, extra: Partial<MessageFacts> = {}): MessageFacts {
  const id = ++seq;
  return {
    client: mailcow, mailFrom: from, now, size: 1000,
    recipients: Array.from({ length: n }, (_, i) => `r${id}-${i}@dest${i % 3}.example`),
    headers: { from: [from], fromRaw: [from], messageId: `<m${id}@laruche.example>` },
    ...extra,
  };
}

async function setup(redis: boolean, policies: unknown = {}): Promise<{ store: Store; dir: TenantDirectory; svc: PolicyService; close: () => Promise<void> }> {
  const store = await openStore(storeOptions(redis));
  const dir = await TenantDirectory.create({ store, seed });
  const svc = createPolicyService({ store, tenants: dir, config: resolvePolicyConfig({ clock: 'facts', timezone: 'UTC', ...(policies as object) }) });
  return { store, dir, svc, close: async () => { await dir.close(); await store.close(); } };
}

describe.each([{ name: 'redis', redis: true }, { name: 'lmdb', redis: false }])('policy service on $name', ({ redis }) => {
  it('accepts up to the limit exactly, then answers 451 4.7.1 with the retry time; stats per verdict', async () => {
    const { svc, store, close } = await setup(redis);
    const first = T0 - 10_000;
    for (let i = 0; i < 3; i++) expect(await svc.decide(msg('alice@laruche.example', 1, first + i * 60_000))).toMatchObject({ action: 'accept', tenant: 'la-ruche', mailbox: 'alice@laruche.example' });
    const v = await svc.decide(msg('alice@laruche.example', 1, T0 + 10 * 60_000));
    expect(v).toMatchObject({ action: 'defer', reason: 'quota', detail: 'mailbox.messages_per_hour', smtp: { code: 451, enhanced: '4.7.1' } });
    // "HH:MM" in UTC (the configured zone), with "DD/MM " when the retry falls on the next day.
    const retry = new Date(T0 + H).toISOString();
    const at = `${retry.slice(0, 10) === new Date(T0).toISOString().slice(0, 10) ? '' : `${retry.slice(8, 10)}/${retry.slice(5, 7)} `}${retry.slice(11, 16)}`;
    expect(v.smtp!.text).toBe(`Quota dépassé : 3 messages/heure pour alice@laruche.example (3 déjà utilisés), réessai possible à ${at} / Quota exceeded: 3 messages/hour for alice@laruche.example (3 already used), retry after ${at}`);
    // Sliding window: room again when the first message is an hour old, rounded up to the end of
    // its granule (1/1000 of the window: 3.6 s).
    const room = chargeTime(first, H) + H;
    expect(room - (first + H)).toBeGreaterThanOrEqual(0);
    expect(room - (first + H)).toBeLessThan(3600);
    expect((await svc.decide(msg('alice@laruche.example', 1, room - 1))).action).toBe('defer');
    expect((await svc.decide(msg('alice@laruche.example', 1, room))).action).toBe('accept');
    const stats = await store.hgetall(verdictStatsKey(T0));
    expect(stats).toMatchObject({ 'la-ruche|alice@laruche.example|accept|ok': 3, 'la-ruche|alice@laruche.example|defer|quota': 2 });
    await close();
  });

  it('counts recipients (30 count 30) and refuses spoofing without using quota', async () => {
    const { svc, close } = await setup(redis);
    expect((await svc.decide(msg('bob@laruche.example', 30, T0))).action).toBe('accept');
    const spoof = await svc.decide(msg('bob@laruche.example', 1, T0, { headers: { from: ['bob@laruche.example'], fromRaw: ['"bob@laruche.example" <ceo@bank.example>'] } }));
    expect(spoof).toMatchObject({ action: 'reject', reason: 'spoofing', smtp: { code: 553, enhanced: '5.7.1' } });
    expect(spoof.smtp!.text).toContain('bank.example');
    const usage = await svc.quotaUsage('bob@laruche.example');
    const u = (n: string) => usage.find((x) => x.scope === 'smtp' && `${x.level}.${x.name}` === n)!;
    expect(u('mailbox.messages_per_hour')).toMatchObject({ used: 1, limit: 3 });
    expect(u('mailbox.recipients_per_day')).toMatchObject({ used: 30, limit: 100 });
    expect(u('tenant.messages_per_day')).toMatchObject({ used: 1, limit: 50, hard: true });
    await close();
  });

  it('refuses bulk before quotas, so refused bulk uses no quota; redirect for redirect tenants', async () => {
    const { svc, close } = await setup(redis);
    const v = await svc.decide(msg('carol@laruche.example', 60, T0));
    expect(v).toMatchObject({ action: 'reject', reason: 'bulk', detail: 'recipients_per_message', smtp: { code: 550, enhanced: '5.7.1' } });
    expect(v.smtp!.text).toContain('https://listes.laruche.example');
    expect((await svc.quotaUsage('carol@laruche.example')).every((x) => x.used === 0)).toBe(true);
    expect(await svc.decide(msg('x@autre.example', 1, T0, { headers: { from: ['x@autre.example'], fromRaw: ['x@autre.example'], listUnsubscribe: '<mailto:u@autre.example>' } })))
      .toMatchObject({ action: 'redirect', reason: 'bulk', detail: 'newsletter_headers' });
    await close();
  });

  it('adds up split transactions of one message: 50 + 50 + 20 with threshold 100 → 2nd and 3rd refused', async () => {
    const { svc, close } = await setup(redis);
    const headers = { from: ['ag@laruche.example'], fromRaw: ['ag@laruche.example'], messageId: '<split-1@laruche.example>' };
    const part = (n: number) => msg('ag@laruche.example', n, T0, { headers });
    expect((await svc.decide(part(50))).action).toBe('accept');
    expect(await svc.decide(part(50))).toMatchObject({ action: 'reject', reason: 'bulk', detail: 'recipients_per_message' });
    expect(await svc.decide(part(20))).toMatchObject({ action: 'reject', reason: 'bulk' });
    const u = await svc.quotaUsage({ level: 'mailbox', id: 'ag@laruche.example' });
    expect(u.find((x) => x.name === 'recipients_per_day' && x.scope === 'smtp')?.used).toBe(50);
    await close();
  });

  it('counts a small last part into the sum the full parts started; small one-offs start no sum', async () => {
    const { svc, close } = await setup(redis);
    const part = (id: string, n: number) => msg('ag@laruche.example', n, T0, { headers: { from: ['ag@laruche.example'], fromRaw: ['ag@laruche.example'], messageId: `<${id}@laruche.example>` } });
    // 50 + 45 + 5 = 100: the 5-recipient last part joins the sum and reaches the threshold.
    expect((await svc.decide(part('split-2', 50))).action).toBe('accept');
    expect((await svc.decide(part('split-2', 45))).action).toBe('accept');
    expect(await svc.decide(part('split-2', 5))).toMatchObject({ action: 'reject', reason: 'bulk', detail: 'recipients_per_message', bulk: { count: 100 } });
    // Below SPLIT_START recipients a transaction starts no sum: sending one 9-recipient message six
    // times (same Message-ID, 54 in all, threshold 50) is judged per transaction.
    await svc.setOverride('mailbox', 'bo@laruche.example', { messages_per_hour: 100, recipients_per_day: 1000 });
    const small = () => msg('bo@laruche.example', SPLIT_START - 1, T0, { headers: { from: ['bo@laruche.example'], fromRaw: ['bo@laruche.example'], messageId: '<small-1@laruche.example>' } });
    for (let i = 0; i < 6; i++) expect((await svc.decide(small())).action, `transaction ${i + 1}`).toBe('accept');
    await close();
  });

  it('answers 550 5.7.1 for hard limits', async () => {
    const { svc, close } = await setup(redis);
    await svc.setOverride('tenant', 'la-ruche', { messages_per_day: { limit: 1, hard: true } });
    expect((await svc.decide(msg('dan@laruche.example', 1, T0))).action).toBe('accept');
    const v = await svc.decide(msg('eve@laruche.example', 1, T0));
    expect(v).toMatchObject({ action: 'reject', reason: 'quota', detail: 'tenant.messages_per_day', smtp: { code: 550, enhanced: '5.7.1' } });
    expect(v.smtp!.text).toContain('le collectif La Ruche');
    expect(await svc.listOverrides()).toEqual([{ level: 'tenant', id: 'la-ruche', limits: { messages_per_day: { limit: 1, hard: true } } }]);
    expect(await svc.clearOverride('tenant', 'la-ruche')).toBe(true);
    expect((await svc.decide(msg('eve@laruche.example', 1, T0))).action).toBe('accept');
    await expect(svc.setOverride('mailbox', 'x@laruche.example', { messages_per_hour: 0 })).rejects.toThrow(/limits.messages_per_hour: must be a positive integer/);
    await close();
  });

  it('paces newsletter clients instead of refusing them', async () => {
    const { svc, close } = await setup(redis);
    const nl = (now: number) => msg('lettre@laruche.example', 1, now, { client: listmonk, headers: { from: ['lettre@laruche.example'], fromRaw: ['lettre@laruche.example'], listId: '<x>' } });
    expect(await svc.decide(nl(T0))).toMatchObject({ action: 'accept', reason: 'ok' });
    expect((await svc.decide(nl(T0))).notBefore).toBeUndefined();
    const third = await svc.decide(nl(T0 + 1000));
    // Booked when the first two leave the window (their granule's end + an hour), two per hour.
    const slot = chargeTime(T0, H) + H;
    expect(third).toMatchObject({ action: 'accept', reason: 'paced', notBefore: slot });
    expect((await svc.decide(nl(T0 + 2000))).notBefore).toBe(slot);
    expect((await svc.decide(nl(T0 + 3000))).notBefore).toBe(slot + H);
    await close();
  });

  it('holds a mailbox that suddenly sends far more than usual, with one notice', async () => {
    const { svc, store, close } = await setup(redis, { guard: { min_hourly: 4, volume_factor: 2 } });
    await svc.setOverride('mailbox', 'zed@laruche.example', { messages_per_hour: 100 });
    // Usual: 2 messages an hour, the previous day.
    await store.hincr('guard:vol:zed@laruche.example', usualHistory(), H);
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push(await svc.decide(msg('zed@laruche.example', 1, T0 + i)));
    expect(verdicts.map((v) => v.action)).toEqual(['accept', 'accept', 'accept', 'hold', 'hold']);
    expect(verdicts[3]).toMatchObject({ reason: 'compromised', detail: 'volume', notice: { to: ['zed@laruche.example', 'admin@laruche.example'] } });
    expect(verdicts[3].holdReason).toContain('4 messages');
    expect(verdicts[4].notice).toBeUndefined();
    await close();
  });

  it('keeps counting the hour while its volume history is written behind (no message lost between reads)', async () => {
    const { svc, store, close } = await setup(redis, { guard: { min_hourly: 4, volume_factor: 2 } });
    await svc.setOverride('mailbox', 'yan@laruche.example', { messages_per_hour: 100 });
    await store.hincr('guard:vol:yan@laruche.example', usualHistory(), H);
    // Spread over more than the 1 s write-behind period: some counts reach the store between two
    // reads of the history, and the 4th message of the hour must still be the first held.
    const verdicts = [];
    for (let i = 0; i < 5; i++) {
      verdicts.push((await svc.decide(msg('yan@laruche.example', 1, T0 + i))).action);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(verdicts).toEqual(['accept', 'accept', 'accept', 'hold', 'hold']);
    await close();
  });

  it('checks the envelope at MAIL FROM', async () => {
    const { svc, close } = await setup(redis);
    expect(await svc.checkSender(mailcow, 'a@laruche.example')).toBeNull();
    expect(await svc.checkSender(mailcow, 'a@bank.example')).toMatchObject({ action: 'reject', smtp: { code: 553 } });
    expect(await svc.checkSender(mailcow, '')).toMatchObject({ action: 'reject', detail: 'null_sender' });
    await close();
  });
});

describe('policy service without its store', () => {
  it('tempfails with 451 4.3.0 by default, or enforces per-node local limits', async () => {
    const store = await openStore(storeOptions(false));
    const dir = await TenantDirectory.create({ store, seed });
    const tempfail = createPolicyService({ store, tenants: dir, config: resolvePolicyConfig({ clock: 'facts' }) });
    const localCfg = resolvePolicyConfig({ clock: 'facts', store_failure: 'local', local_limit_factor: 0.5 });
    const local = createPolicyService({ store, tenants: dir, config: localCfg });
    await store.close();
    expect(await tempfail.decide(msg('alice@laruche.example', 1, T0))).toMatchObject({ action: 'defer', reason: 'store_unavailable', smtp: { code: 451, enhanced: '4.3.0' } });
    // Half of 3/hour → 1 per node.
    expect((await local.decide(msg('alice@laruche.example', 1, T0))).action).toBe('accept');
    expect(await local.decide(msg('alice@laruche.example', 1, T0 + 1))).toMatchObject({ action: 'defer', reason: 'quota' });
    expect((await local.decide(msg('bob@laruche.example', 60, T0))).reason).toBe('bulk');
    await dir.close();
  });
});
