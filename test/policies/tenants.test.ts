import { describe, it, expect } from 'vitest';
import { scratchStores } from '../store/redis-cleanup.js';
import { openStore } from '../../src/store/open.js';
import { TenantDirectory, validateSeed, ConfigError, substituteEnv } from '../../src/tenants/index.js';

const scratch = scratchStores('tenants');

const seed = {
  tenants: [
    { id: 'la-ruche', name: 'La Ruche', domains: ['laruche.example', '*.ruche.example'], limits: { mailbox: { messages_per_hour: 200 } },
      mailboxes: { 'AG@laruche.example': { limits: { messages_per_hour: 500 } } },
      listmonk: { url: 'http://127.0.0.1:9000', public_url: 'https://listes.laruche.example', user: 'relais', token: '${LARUCHE_TOKEN}' } },
    { id: 'cafe', domains: ['café.example'] },
  ],
  clients: [
    { name: 'mailcow', password_hash: '$scrypt$abc', tenants: ['la-ruche', 'cafe'] },
    { name: 'listmonk-la-ruche', password_hash: '$scrypt$def', tenants: ['la-ruche'], newsletter: true },
    { name: 'relay-all', networks: ['10.0.0.0/8'], tenants: ['*'] },
  ],
};
const env = { LARUCHE_TOKEN: 's3cret' };

function problems(fn: () => unknown): string[] {
  try { fn(); } catch (e) { if (e instanceof ConfigError) return e.problems; throw e; }
  return [];
}

describe('tenant seed validation', () => {
  it('accepts the documented shape, normalises domains and mailboxes, substitutes ${VAR}', () => {
    const s = validateSeed(seed, env);
    expect(s.tenants[0].listmonk?.token).toBe('s3cret');
    expect(s.tenants[1].domains).toEqual(['xn--caf-dma.example']);
    expect(Object.keys(s.tenants[0].mailboxes)).toEqual(['ag@laruche.example']);
    expect(s.clients.map((c) => [c.name, c.newsletter])).toEqual([['mailcow', false], ['listmonk-la-ruche', true], ['relay-all', false]]);
  });

  it('names the key path of every problem', () => {
    const bad = {
      tenants: [
        { id: 'a', domains: ['a.example'] },
        { id: 'b', domains: ['b.example'] },
        { id: 'c', domains: ['a.example', 'not a domain'], limits: { mailbox: { messages_per_hour: -3, messages_per_week: 1 } }, bulk: { action: 'drop' } },
      ],
      clients: [{ name: 'x', password: 'clear', tenants: ['nope'] }],
    };
    expect(problems(() => validateSeed(bad, env))).toEqual(expect.arrayContaining([
      'tenants[2].limits.mailbox.messages_per_hour: must be a positive integer',
      expect.stringMatching(/^tenants\[2\]\.limits\.mailbox\.messages_per_week: unknown key/),
      'tenants[2].domains[1]: "not a domain" is not a valid domain',
      'tenants[2].bulk.action: must be one of allow|defer|reject|redirect',
      'tenants[2].domains: "a.example" already belongs to tenant "a"',
      expect.stringMatching(/^clients\[0\]\.password: unknown key/),
      'clients[0]: needs password_hash or networks (how the client is recognised)',
      'clients[0].tenants[0]: unknown tenant "nope"',
    ]));
    expect(problems(() => validateSeed(seed, {}))).toEqual(['tenants[0].listmonk.token: environment variable LARUCHE_TOKEN is not set']);
  });

  it('substitutes environment variables', () => {
    expect(substituteEnv('Bearer ${A}-$${B}', { A: 'x' })).toBe('Bearer x-${B}');
  });
});

describe('tenant directory', () => {
  const opts = () => ({ redisUrl: 'redis://127.0.0.1:6379', dataDir: scratch.dir(), prefix: scratch.prefix() });

  it('resolves sender domains (exact, wildcard, Unicode) and lists clients per tenant', async () => {
    const store = await openStore(opts());
    const dir = await TenantDirectory.create({ store, seed, env });
    expect((await dir.resolveSenderDomain('LaRuche.example'))?.id).toBe('la-ruche');
    expect((await dir.resolveSenderDomain('news.ruche.example'))?.id).toBe('la-ruche');
    expect(await dir.resolveSenderDomain('ruche.example')).toBeUndefined();
    expect((await dir.resolveSenderDomain('CAFÉ.example'))?.id).toBe('cafe');
    expect((await dir.get('la-ruche'))?.clients).toEqual(['listmonk-la-ruche', 'mailcow']);
    expect((await dir.list()).map((t) => [t.id, t.source])).toEqual([['cafe', 'seed'], ['la-ruche', 'seed']]);
    await dir.close();
    await store.close();
  });

  it('applies run-time changes on every node without restart, until reset to the seed', async () => {
    const o = opts();
    const storeA = await openStore(o);
    const storeB = await openStore(o);
    const a = await TenantDirectory.create({ store: storeA, seed, env });
    const b = await TenantDirectory.create({ store: storeB, seed, env, refreshMs: 3_600_000 });
    const changes: string[] = [];
    b.onChanged((c) => changes.push(`${c.kind}:${c.id}`));
    expect(await b.resolveSenderDomain('neuf.example')).toBeUndefined();

    await a.upsert({ id: 'neuf', name: 'Neuf', domains: ['neuf.example'] });
    await a.upsert({ ...seed.tenants[1], name: 'Le Café' });
    const until = async (cond: () => Promise<boolean>) => { for (let i = 0; i < 100 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 20)); };
    await until(async () => (await b.resolveSenderDomain('neuf.example')) !== undefined);
    expect((await b.resolveSenderDomain('neuf.example'))?.id).toBe('neuf');
    expect(await b.get('cafe')).toMatchObject({ name: 'Le Café', source: 'store' });
    expect(changes).toContain('tenant:neuf');

    await expect(a.upsert({ id: 'pirate', domains: ['laruche.example'] })).rejects.toThrow(/already belongs to tenant "la-ruche"/);
    await expect(a.upsert({ id: 'Bad Id', domains: [] })).rejects.toBeInstanceOf(ConfigError);

    await a.remove('la-ruche');
    await until(async () => (await b.get('la-ruche')) === undefined);
    expect(await b.resolveSenderDomain('laruche.example')).toBeUndefined();
    await a.resetToSeed('la-ruche');
    await a.resetToSeed('cafe');
    await until(async () => (await b.get('la-ruche')) !== undefined && (await b.get('cafe'))?.source === 'seed');
    expect((await b.get('cafe'))?.name).toBe('cafe');

    await a.upsertClient({ name: 'new-client', password_hash: '$scrypt$x', tenants: ['neuf'] });
    await until(async () => (await b.getClient('new-client')) !== undefined);
    expect((await b.get('neuf'))?.clients).toEqual(['new-client']);
    for (const x of [a, b]) await x.close();
    for (const s of [storeA, storeB]) await s.close();
  });

  it('stores run-time changes literally: ${VAR} is expanded in the YAML seed only', async () => {
    const store = await openStore(opts());
    const dir = await TenantDirectory.create({ store, seed, env: { ...env, SECRET: 'le-secret' } });
    await dir.upsert({ id: 'curieux', name: '${SECRET}', domains: ['curieux.example'], listmonk: { url: 'http://127.0.0.1:9000', user: '${SECRET}', token: '${LARUCHE_TOKEN}' } });
    await dir.upsertClient({ name: 'curieux-client', password_hash: '$scrypt$${SECRET}', tenants: ['curieux'] });
    const t = await dir.get('curieux');
    expect(t?.name).toBe('${SECRET}');
    expect(t?.listmonk).toMatchObject({ user: '${SECRET}', token: '${LARUCHE_TOKEN}' });
    expect((await dir.getClient('curieux-client'))?.password_hash).toBe('$scrypt$${SECRET}');
    expect((await dir.get('la-ruche'))?.listmonk?.token).toBe('s3cret');
    await dir.close();
    await store.close();
  });

  it('keeps serving the last snapshot when the store goes away', async () => {
    const store = await openStore({ ...opts(), redisUrl: undefined });
    const dir = await TenantDirectory.create({ store, seed, env });
    await store.close();
    expect((await dir.resolveSenderDomain('laruche.example'))?.id).toBe('la-ruche');
    await dir.close();
  });
});
