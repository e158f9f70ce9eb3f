/**
 * DKIM key management on the shared store (namespace "dkim", one document per domain holding all
 * its keys, so signing reads one document). Private keys never sit in the store in clear: they
 * are AES-256-GCM encrypted with a key derived (scrypt, per-key salt) from RELAIS_DKIM_MASTER_KEY,
 * bound to domain+selector as associated data; without a master key a `keyDir` is required and
 * the PEM goes to a 0600 file. Lifecycle: staged → active → retired (kept until removed, so its
 * DNS record can stay published while signatures made with it are still in flight).
 */
import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Store } from '../../src/store/types.js';
import { normalizeDomain } from '../../src/util/domain.js';
import { decrypt, encrypt, writeKeyFile, type EncryptedSecret, type FileSecret } from './key-secrets.js';
import type { DkimAlgo, DkimKey } from './sign.js';
import { BoundedMap } from '../../src/util/bounded-map.js';

export const DKIM_NS = 'dkim';
/** Pub/sub channel announcing "keys of <domain> changed" to the other nodes' caches. */
export const DKIM_CHANNEL = 'dkim-keys-changed';
export type DkimKeyStatus = 'staged' | 'active' | 'retired';

/** What every key record carries, stored or shown. */
interface KeyBase {
  domain: string;
  selector: string;
  algo: DkimAlgo;
  status: DkimKeyStatus;
  createdAt: number;
  activatedAt?: number;
  retiredAt?: number;
}

interface StoredKey extends KeyBase {
  /** p= value (base64). */
  publicKey: string;
  secret: EncryptedSecret | FileSecret;
}

interface DomainDoc {
  keys: StoredKey[];
}

/** A key as the admin API sees it: no private material. */
export interface DkimKeyInfo extends KeyBase {
  storage: 'encrypted' | 'file';
  dns: DkimDnsRecord;
}

export interface DkimDnsRecord {
  /** "selector._domainkey.domain" */
  name: string;
  type: 'TXT';
  /** "v=DKIM1; k=rsa; p=..." */
  value: string;
  /** value split into ≤255-character strings (one TXT record made of several strings). */
  strings: string[];
  /** Ready for a zone file: name. IN TXT ( "…" "…" ) */
  zoneLine: string;
}

export interface GenerateKeyOptions {
  selector?: string;
  algo?: DkimAlgo;
  /** Keep the new key staged even if it is the first of its algorithm. */
  stage?: boolean;
  masterKey?: string;
  /** Where to write the PEM (0600) when there is no master key. */
  keyDir?: string;
  /** RSA modulus length, default 2048. */
  rsaBits?: number;
  now?: number;
}

export interface SigningKeyOptions {
  /** How long decrypted keys stay cached (default 60 s). */
  ttlMs?: number;
  now?: number;
}

const genKeyPair = promisify(generateKeyPair) as unknown as (
  type: string,
  options: object,
) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

/**
 * The name a domain's keys are filed under: its ASCII form (the cached one: every message looks
 * its From: domain's keys up), or the trimmed lower-case text for what is not a domain name.
 */
function keyDomain(domain: string): string {
  return normalizeDomain(domain) ?? domain.trim().toLowerCase().replace(/\.$/, '');
}

const SELECTOR_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export async function generateKey(
  store: Store,
  domainIn: string,
  opts: GenerateKeyOptions = {},
): Promise<{ key: DkimKeyInfo; dns: DkimDnsRecord }> {
  const domain = keyDomain(domainIn);
  const algo = opts.algo ?? 'rsa';
  const masterKey = opts.masterKey || undefined;
  if (!masterKey && !opts.keyDir)
    throw new Error('Refusing to store a DKIM private key unencrypted: set RELAIS_DKIM_MASTER_KEY or give a keyDir');
  const now = opts.now ?? Date.now();
  const doc = (await store.getDoc<DomainDoc>(DKIM_NS, domain)) ?? { keys: [] };
  const selector = (opts.selector ?? defaultSelector(doc, algo, now)).toLowerCase();
  if (!SELECTOR_RE.test(selector)) throw new Error(`Invalid DKIM selector "${selector}"`);
  if (doc.keys.some((k) => k.selector === selector)) throw new Error(`DKIM selector ${selector} already exists for ${domain}`);

  const pair =
    algo === 'rsa'
      ? await genKeyPair('rsa', { modulusLength: opts.rsaBits ?? 2048 })
      : await genKeyPair('ed25519', {});
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const publicKey =
    algo === 'rsa'
      ? (pair.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64')
      : // RFC 8463: the raw 32-byte Ed25519 public key, not the SPKI wrapper.
        Buffer.from(pair.publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('base64');

  const secret: EncryptedSecret | FileSecret = masterKey
    ? await encrypt(pem, masterKey, aad(domain, selector))
    : await writeKeyFile(opts.keyDir as string, domain, selector, pem);

  const hasActive = doc.keys.some((k) => k.algo === algo && k.status === 'active');
  const status: DkimKeyStatus = opts.stage || hasActive ? 'staged' : 'active';
  const stored: StoredKey = { domain, selector, algo, status, createdAt: now, publicKey, secret };
  if (status === 'active') stored.activatedAt = now;
  doc.keys.push(stored);
  await store.putDoc(DKIM_NS, domain, doc);
  await changed(store, domain);
  const key = toInfo(stored);
  return { key, dns: key.dns };
}

/** Makes a key active; the previously active key of the same algorithm becomes retired. */
export async function activateKey(store: Store, domainIn: string, selector: string, now = Date.now()): Promise<DkimKeyInfo> {
  const domain = keyDomain(domainIn);
  const doc = await store.getDoc<DomainDoc>(DKIM_NS, domain);
  const key = doc?.keys.find((k) => k.selector === selector.toLowerCase());
  if (!doc || !key) throw new Error(`No DKIM key ${selector} for ${domain}`);
  for (const k of doc.keys) {
    if (k !== key && k.algo === key.algo && k.status === 'active') {
      k.status = 'retired';
      k.retiredAt = now;
    }
  }
  if (key.status !== 'active') {
    key.status = 'active';
    key.activatedAt = now;
    delete key.retiredAt;
  }
  await store.putDoc(DKIM_NS, domain, doc);
  await changed(store, domain);
  return toInfo(key);
}

/** Deletes a key (and its PEM file). Returns false when it did not exist. */
export async function removeKey(store: Store, domainIn: string, selector: string): Promise<boolean> {
  const domain = keyDomain(domainIn);
  const doc = await store.getDoc<DomainDoc>(DKIM_NS, domain);
  const key = doc?.keys.find((k) => k.selector === selector.toLowerCase());
  if (!doc || !key) return false;
  doc.keys = doc.keys.filter((k) => k !== key);
  if (doc.keys.length) await store.putDoc(DKIM_NS, domain, doc);
  else await store.deleteDoc(DKIM_NS, domain);
  if (key.secret.kind === 'file') await rm(key.secret.path, { force: true });
  await changed(store, domain);
  return true;
}

/** Keys of one domain, or of all domains; never private material. */
export async function listKeys(store: Store, domainIn?: string): Promise<DkimKeyInfo[]> {
  if (domainIn !== undefined) {
    const doc = await store.getDoc<DomainDoc>(DKIM_NS, keyDomain(domainIn));
    return (doc?.keys ?? []).map(toInfo);
  }
  const all = await store.listDocs<DomainDoc>(DKIM_NS);
  return all.flatMap((e) => e.value.keys.map(toInfo));
}

interface CacheEntry {
  expires: number;
  keys: Promise<DkimKey[]>;
  /** Keys decrypted for this entry, by selector and ciphertext, with the master key used. */
  decrypted: Map<string, KeyObject>;
  masterKey: string | undefined;
}
/**
 * Keys held per store: keyed by From: domain, which clients sending for any domain choose, so
 * bytes, not entries (an entry is counted as 2 KiB: a couple of keys, or none for a foreign domain).
 */
export const KEY_CACHE_BYTES = 4 * 1024 * 1024;
const caches = new WeakMap<Store, BoundedMap<CacheEntry>>();

/**
 * Decrypted active keys of a domain, for signing. Cached per store and domain for ttlMs (the
 * promise itself is cached, so concurrent messages share one store read and one decryption).
 */
export function activeSigningKeys(
  store: Store,
  domainIn: string,
  masterKey?: string,
  opts: SigningKeyOptions = {},
): Promise<DkimKey[]> {
  const domain = keyDomain(domainIn);
  const now = opts.now ?? Date.now();
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new BoundedMap<CacheEntry>(KEY_CACHE_BYTES, () => 2048)));
  const hit = cache.get(domain);
  if (hit && hit.expires > now) return hit.keys;
  const master = masterKey || undefined;
  // A reload after the TTL decrypts only what changed: scrypt (16 MiB, tens of milliseconds on
  // libuv's pool, which the spool's fsyncs share) once a minute per domain otherwise.
  const reuse = hit && hit.masterKey === master ? hit.decrypted : undefined;
  const decrypted = new Map<string, KeyObject>();
  const keys = loadActive(store, domain, master, reuse, decrypted);
  const entry: CacheEntry = { expires: now + (opts.ttlMs ?? 60_000), keys, decrypted, masterKey: master };
  cache.set(domain, entry);
  // A failed load (store down, wrong master key) must not stay cached.
  keys.catch(() => cache.get(domain) === entry && cache.delete(domain));
  return keys;
}

export function invalidateKeyCache(store: Store, domain?: string): void {
  const cache = caches.get(store);
  if (!cache) return;
  if (domain === undefined) cache.clear();
  else cache.delete(keyDomain(domain));
}

/**
 * Drops this node's cached keys when another node changes a domain's keys. Returns the
 * unsubscribe function. Without it, other nodes pick up changes within the cache TTL.
 */
export function watchKeyChanges(store: Store): Promise<() => Promise<void>> {
  return store.subscribe(DKIM_CHANNEL, (domain) => invalidateKeyCache(store, domain));
}

async function changed(store: Store, domain: string): Promise<void> {
  invalidateKeyCache(store, domain);
  try {
    await store.publish(DKIM_CHANNEL, domain);
  } catch {
    /* the change is stored; other nodes still catch up within the cache TTL */
  }
}

/**
 * The active keys of `domain`, decrypted. `reuse`: keys decrypted by the previous load with the
 * same master key, by selector and ciphertext (the ciphertext is bound to its selector, so the
 * same pair always decrypts to the same key); `decrypted` receives this load's.
 */
async function loadActive(
  store: Store,
  domain: string,
  masterKey: string | undefined,
  reuse: Map<string, KeyObject> | undefined,
  decrypted: Map<string, KeyObject>,
): Promise<DkimKey[]> {
  const doc = await store.getDoc<DomainDoc>(DKIM_NS, domain);
  const active = (doc?.keys ?? []).filter((k) => k.status === 'active');
  return Promise.all(
    active.map(async (k) => {
      let privateKey: KeyObject;
      if (k.secret.kind === 'file') privateKey = createPrivateKey(await readFile(k.secret.path, 'utf8'));
      else {
        if (!masterKey) throw new Error(`DKIM key ${k.selector}._domainkey.${domain} is encrypted: master key required`);
        const id = `${k.selector}\n${k.secret.iv}\n${k.secret.tag}\n${k.secret.data}`;
        privateKey = reuse?.get(id) ?? createPrivateKey(await decrypt(k.secret, masterKey, aad(domain, k.selector)));
        decrypted.set(id, privateKey);
      }
      return { domain, selector: k.selector, algo: k.algo, privateKey };
    }),
  );
}

export function dnsRecord(domain: string, selector: string, algo: DkimAlgo, publicKey: string): DkimDnsRecord {
  const name = `${selector}._domainkey.${domain}`;
  const value = `v=DKIM1; k=${algo}; p=${publicKey}`;
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += 255) strings.push(value.slice(i, i + 255));
  return { name, type: 'TXT', value, strings, zoneLine: `${name}. IN TXT ( ${strings.map((s) => `"${s}"`).join(' ')} )` };
}

function toInfo(k: StoredKey): DkimKeyInfo {
  const info: DkimKeyInfo = {
    domain: k.domain,
    selector: k.selector,
    algo: k.algo,
    status: k.status,
    createdAt: k.createdAt,
    storage: k.secret.kind === 'file' ? 'file' : 'encrypted',
    dns: dnsRecord(k.domain, k.selector, k.algo, k.publicKey),
  };
  if (k.activatedAt !== undefined) info.activatedAt = k.activatedAt;
  if (k.retiredAt !== undefined) info.retiredAt = k.retiredAt;
  return info;
}

/** "relais202611r", "relais202611e" (+ "-2", "-3"… when taken). */
function defaultSelector(doc: DomainDoc, algo: DkimAlgo, now: number): string {
  const d = new Date(now);
  const base = `relais${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${algo === 'rsa' ? 'r' : 'e'}`;
  let s = base;
  for (let i = 2; doc.keys.some((k) => k.selector === s); i++) s = `${base}-${i}`;
  return s;
}

const aad = (domain: string, selector: string): Buffer => Buffer.from(`relais-dkim:${domain}:${selector}`);
