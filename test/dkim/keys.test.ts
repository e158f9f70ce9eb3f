/**
 * DKIM key management on the real stores (embedded LMDB and Redis): lifecycle, encryption at
 * rest, the exact DNS record (checked by signing and verifying against it), signing-key cache.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateKey, activeSigningKeys, generateKey, invalidateKeyCache, listKeys, removeKey, watchKeyChanges } from '../../relay/dkim/keys.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { mailauthVerify, msg, pythonVerify, relaisSign } from './helpers/verify.js';

const MASTER = 'test-master-key-' + randomUUID();
let dns: TestDnsServer;
let dir: string;

beforeAll(async () => {
  dns = await startDnsServer({});
  dir = await mkdtemp(join(tmpdir(), 'relais-dkim-keys-'));
});
afterAll(async () => {
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});

/** Counts store reads without changing behaviour. */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(store, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop === 'getDoc') return (...a: [string, string]) => (reads++, target.getDoc(...a));
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: wrapped, reads: () => reads };
}

const BACKENDS: Array<[string, () => Promise<Store>]> = [
  ['embedded', async () => openStore({ dataDir: await mkdtemp(join(dir, 'lmdb-')) })],
  ['redis', async () => openStore({ redisUrl: 'redis://127.0.0.1:6379', dataDir: dir, prefix: `test-dkim-${randomUUID()}:` })],
];

for (const [kind, open] of BACKENDS) {
  describe(`DKIM keys on the ${kind} store`, () => {
    let store: Store;
    const domain = `asso-${kind}.example`;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      for (const k of await listKeys(store)) await removeKey(store, k.domain, k.selector);
      await store.close();
    });

    it('refuses to store a private key unencrypted', async () => {
      await expect(generateKey(store, domain, { algo: 'ed25519' })).rejects.toThrow(/unencrypted/);
      expect(await listKeys(store, domain)).toEqual([]);
    });

    it('generates, encrypts at rest, publishes the exact record, signs and verifies', async () => {
      const rsa = await generateKey(store, domain, { masterKey: MASTER, now: Date.UTC(2026, 10, 26) });
      const ed = await generateKey(store, domain.toUpperCase(), { algo: 'ed25519', masterKey: MASTER, selector: 'Ed1' });
      expect(rsa.key).toMatchObject({ domain, selector: 'relais202611r', algo: 'rsa', status: 'active', storage: 'encrypted' });
      expect(ed.key).toMatchObject({ domain, selector: 'ed1', algo: 'ed25519', status: 'active' });
      expect(rsa.dns.name).toBe(`relais202611r._domainkey.${domain}`);
      expect(rsa.dns.value).toMatch(/^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/=]+$/); // RSA-2048 SPKI
      expect(ed.dns.value).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/); // raw 32-byte key
      expect(rsa.dns.strings.join('')).toBe(rsa.dns.value);
      expect(rsa.dns.strings.length).toBe(2);
      expect(Math.max(...rsa.dns.strings.map((s) => s.length))).toBeLessThanOrEqual(255);
      expect(rsa.dns.zoneLine).toBe(`${rsa.dns.name}. IN TXT ( "${rsa.dns.strings[0]}" "${rsa.dns.strings[1]}" )`);

      // Nothing private in clear in the store, nothing private in listings.
      const raw = JSON.stringify(await store.getDoc('dkim', domain));
      expect(raw).not.toMatch(/PRIVATE KEY/);
      expect(raw).toMatch(/aes-256-gcm/);
      const listed = JSON.stringify(await listKeys(store, domain));
      expect(listed).not.toMatch(/secret|privateKey|PRIVATE/);

      // Publish exactly the strings a zone file would hold and verify real signatures against them.
      dns.zones[rsa.dns.name] = { TXT: [rsa.dns.strings] };
      dns.zones[ed.dns.name] = { TXT: [ed.dns.strings] };
      const keys = await activeSigningKeys(store, domain, MASTER);
      expect(keys.map((k) => k.selector).sort()).toEqual(['ed1', 'relais202611r']);
      const signed = await relaisSign(msg(['From: a@' + domain, 'Subject: clés'], 'corps\r\n'), keys);
      expect((await pythonVerify(signed, dns)).map((r) => r.ok)).toEqual([true, true]);
      expect((await mailauthVerify(signed, dns)).map((r) => r.ok)).toEqual([true, true]);
    });

    it('rotation: a second key is staged until activated, then the old one is retired', async () => {
      const next = await generateKey(store, domain, { masterKey: MASTER, now: Date.UTC(2026, 10, 27) });
      expect(next.key).toMatchObject({ selector: 'relais202611r-2', status: 'staged' });
      const { store: s, reads } = counting(store);
      invalidateKeyCache(s);
      expect((await activeSigningKeys(s, domain, MASTER)).map((k) => k.selector).sort()).toEqual(['ed1', 'relais202611r']);
      // Cached: many messages, concurrent or not, one store read.
      await Promise.all(Array.from({ length: 20 }, () => activeSigningKeys(s, domain, MASTER)));
      expect(reads()).toBe(1);

      await activateKey(s, domain, 'relais202611r-2');
      const byName = Object.fromEntries((await listKeys(store, domain)).map((k) => [k.selector, k.status]));
      expect(byName).toEqual({ relais202611r: 'retired', 'relais202611r-2': 'active', ed1: 'active' });
      expect((await activeSigningKeys(s, domain, MASTER)).map((k) => k.selector).sort()).toEqual(['ed1', 'relais202611r-2']);
      expect(reads()).toBe(3); // + activateKey's read + one reload after the cache was invalidated
    });

    it('a reload after the cache TTL decrypts again only keys that changed', async () => {
      invalidateKeyCache(store);
      const t = Date.now();
      const first = await activeSigningKeys(store, domain, MASTER, { now: t, ttlMs: 1000 });
      const again = await activeSigningKeys(store, domain, MASTER, { now: t + 2000, ttlMs: 1000 });
      expect(again).not.toBe(first); // the record was read again...
      for (const k of again) expect(k.privateKey).toBe(first.find((f) => f.selector === k.selector)!.privateKey); // ...nothing decrypted again
      // Another master key after the TTL decrypts from scratch (and fails here).
      await expect(activeSigningKeys(store, domain, 'wrong', { now: t + 4000, ttlMs: 1000 })).rejects.toThrow(/wrong RELAIS_DKIM_MASTER_KEY/);
    });

    it('wrong master key or a secret moved to another selector cannot be decrypted (and is not cached)', async () => {
      invalidateKeyCache(store);
      await expect(activeSigningKeys(store, domain, 'wrong')).rejects.toThrow(/wrong RELAIS_DKIM_MASTER_KEY/);
      await expect(activeSigningKeys(store, domain)).rejects.toThrow(/master key required/);
      expect(await activeSigningKeys(store, domain, MASTER)).toHaveLength(2);

      const doc = (await store.getDoc<any>('dkim', domain))!;
      const ed = doc.keys.find((k: any) => k.selector === 'ed1');
      const other = await generateKey(store, domain, { algo: 'ed25519', masterKey: MASTER, selector: 'ed2', stage: true });
      const doc2 = (await store.getDoc<any>('dkim', domain))!;
      const moved = doc2.keys.find((k: any) => k.selector === other.key.selector);
      moved.secret = ed.secret;
      moved.status = 'active';
      doc2.keys.find((k: any) => k.selector === 'ed1').status = 'retired';
      await store.putDoc('dkim', domain, doc2);
      invalidateKeyCache(store);
      await expect(activeSigningKeys(store, domain, MASTER)).rejects.toThrow(/Cannot decrypt/);
      expect(await removeKey(store, domain, 'ed2')).toBe(true);
    });

    it('stage: true keeps even the first key staged; removeKey and listKeys', async () => {
      const d2 = `staged-${kind}.example`;
      const k = await generateKey(store, d2, { algo: 'ed25519', masterKey: MASTER, stage: true });
      expect(k.key.status).toBe('staged');
      expect(await activeSigningKeys(store, d2, MASTER)).toEqual([]);
      await activateKey(store, d2, k.key.selector);
      invalidateKeyCache(store, d2);
      expect(await activeSigningKeys(store, d2, MASTER)).toHaveLength(1);
      expect((await listKeys(store)).some((x) => x.domain === d2)).toBe(true);
      expect(await removeKey(store, d2, k.key.selector)).toBe(true);
      expect(await removeKey(store, d2, k.key.selector)).toBe(false);
      expect(await listKeys(store, d2)).toEqual([]);
      await expect(generateKey(store, d2, { algo: 'ed25519', masterKey: MASTER, selector: 'bad_selector' })).rejects.toThrow(/Invalid/);
    });

    it('without a master key, a keyDir holds the PEM in a 0600 file', async () => {
      const keyDir = join(dir, `keys-${kind}`);
      const d3 = `file-${kind}.example`;
      const k = await generateKey(store, d3, { algo: 'ed25519', keyDir, selector: 's1' });
      expect(k.key.storage).toBe('file');
      const [file] = await readdir(keyDir);
      expect(file).toBe(`s1._domainkey.${d3}.pem`);
      expect((await stat(join(keyDir, file))).mode & 0o777).toBe(0o600);
      expect(JSON.stringify(await store.getDoc('dkim', d3))).not.toMatch(/PRIVATE KEY/);
      const [key] = await activeSigningKeys(store, d3);
      expect(key).toMatchObject({ selector: 's1', algo: 'ed25519', domain: d3 });
      await removeKey(store, d3, 's1');
      expect(await readdir(keyDir)).toEqual([]);
    });
  });
}

describe('DKIM key changes reach the other nodes (Redis pub/sub)', () => {
  it("a key activated on node A is used by node B at once, not after B's cache TTL", async () => {
    const prefix = `test-dkim-${randomUUID()}:`;
    const a = await openStore({ redisUrl: 'redis://127.0.0.1:6379', dataDir: dir, prefix });
    const b = await openStore({ redisUrl: 'redis://127.0.0.1:6379', dataDir: dir, prefix });
    const unwatch = await watchKeyChanges(b);
    try {
      const d = 'nodes.example';
      const first = await generateKey(a, d, { algo: 'ed25519', masterKey: MASTER, selector: 'one' });
      const second = await generateKey(a, d, { algo: 'ed25519', masterKey: MASTER, selector: 'two' });
      expect([first.key.status, second.key.status]).toEqual(['active', 'staged']);
      expect((await activeSigningKeys(b, d, MASTER, { ttlMs: 3_600_000 })).map((k) => k.selector)).toEqual(['one']);
      await activateKey(a, d, 'two');
      // Wait for the notification (bounded), then B must see the new key despite its hour-long TTL.
      for (let i = 0; i < 50; i++) {
        const keys = await activeSigningKeys(b, d, MASTER, { ttlMs: 3_600_000 });
        if (keys[0]?.selector === 'two') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await activeSigningKeys(b, d, MASTER, { ttlMs: 3_600_000 })).map((k) => k.selector)).toEqual(['two']);
      await removeKey(a, d, 'one');
      await removeKey(a, d, 'two');
    } finally {
      await unwatch();
      await a.close();
      await b.close();
    }
  });
});
