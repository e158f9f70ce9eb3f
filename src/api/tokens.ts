/**
 * API tokens: "rls_<id>_<secret>", shown once at creation. Only a SHA-256 of the secret is kept
 * (the secret is 32 random bytes, so a fast hash is enough; scrypt would only slow every request).
 * Scopes: "admin", or "tenant:<id>" (read-only, that tenant's data and stats only).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/types.js';

export const TOKENS_NS = 'tokens';

export interface TokenRecord {
  id: string;
  name: string;
  scopes: string[];
  hash: string;
  createdAt: string;
  lastUsedAt?: string;
}

export type TokenInfo = Omit<TokenRecord, 'hash'>;

export interface Principal {
  tokenId: string;
  name: string;
  admin: boolean;
  /** Set for tenant-scoped tokens: the only tenant this principal may read. */
  tenant?: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function validScope(scope: string): boolean {
  return scope === 'admin' || /^tenant:[a-z0-9][a-z0-9._-]{0,62}$/.test(scope);
}

export async function createToken(store: Store, name: string, scopes: string[]): Promise<{ token: string; info: TokenInfo }> {
  for (const s of scopes) if (!validScope(s)) throw new Error(`invalid scope ${JSON.stringify(s)} (expected "admin" or "tenant:<id>")`);
  if (!scopes.length) throw new Error('a token needs at least one scope');
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const rec: TokenRecord = { id, name, scopes, hash: sha256(secret), createdAt: new Date().toISOString() };
  await store.putDoc(TOKENS_NS, id, rec);
  const { hash: _hash, ...info } = rec;
  return { token: `rls_${id}_${secret}`, info };
}

export async function listTokens(store: Store): Promise<TokenInfo[]> {
  return (await store.listDocs<TokenRecord>(TOKENS_NS)).map(({ value: { hash: _hash, ...info } }) => info);
}

export async function revokeToken(store: Store, id: string): Promise<boolean> {
  return store.deleteDoc(TOKENS_NS, id);
}

export function principalFromScopes(tokenId: string, name: string, scopes: string[]): Principal {
  const admin = scopes.includes('admin');
  const tenant = admin ? undefined : scopes.find((s) => s.startsWith('tenant:'))?.slice(7);
  return { tokenId, name, admin, tenant };
}

/** Resolves a bearer token; null when unknown or wrong. Throws only when the store is unreachable. */
export async function verifyToken(store: Store, token: string, envAdminToken?: string): Promise<Principal | null> {
  if (envAdminToken && token.length === envAdminToken.length && timingSafeEqual(Buffer.from(token), Buffer.from(envAdminToken))) {
    return { tokenId: 'env', name: 'RELAIS_ADMIN_TOKEN', admin: true };
  }
  const m = /^rls_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return null;
  const rec = await store.getDoc<TokenRecord>(TOKENS_NS, m[1]!);
  if (!rec) return null;
  const given = Buffer.from(sha256(m[2]!), 'hex');
  const expected = Buffer.from(rec.hash, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return principalFromScopes(rec.id, rec.name, rec.scopes);
}

/** The first start creates an admin token (printed once); later starts find one and do nothing. */
export async function ensureFirstAdminToken(store: Store): Promise<string | null> {
  const existing = await store.listDocs<TokenRecord>(TOKENS_NS);
  if (existing.length) return null;
  const marker = await store.setIfAbsent('tokens:first-admin', new Date().toISOString(), 100 * 365 * 86_400_000);
  if (marker !== null) return null;
  return (await createToken(store, 'first-admin', ['admin'])).token;
}
