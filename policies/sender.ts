/**
 * Sender authorisation (anti-spoofing): the envelope domain and every From: address domain must
 * belong to a tenant the client may send for. Clients with tenants ["*"] may send anything; the
 * null sender is only for Relais itself or clients allowed to use it. Pure: the tenant lookup is
 * passed in (already-normalised ASCII domain → tenant id).
 */
import type { ClientIdentity, Verdict } from './types.js';
import { parseAddressList } from './address.js';
import { domainOf, normalizeDomain } from '../src/util/domain.js';
import { invalidSenderAnswer, nullSenderAnswer, spoofingAnswer } from './answers.js';

export type TenantOf = (asciiDomain: string) => string | undefined;

export interface SenderInput {
  client: ClientIdentity;
  /** Envelope sender, '' for <>. */
  mailFrom: string;
  /** From: addresses (parsed by the intake). */
  from?: string[];
  /** Raw From: value; parsed here too so display-name tricks are judged on the real address. */
  fromRaw?: string;
  tenantOf: TenantOf;
}

export type SenderDecision =
  | { ok: true; tenant?: string; domain?: string }
  | { ok: false; verdict: Verdict };

function refuse(detail: string, smtp: Verdict['smtp'], tenant?: string): SenderDecision {
  return { ok: false, verdict: { action: 'reject', reason: 'spoofing', detail, smtp, tenant } };
}

/** The domain as given, plus its ASCII form when they differ: a look-alike shows what it really is. */
function shown(raw: string, ascii: string): string {
  const r = raw.trim().replace(/\.$/, '');
  return r === ascii ? r : `${r} (${ascii})`;
}

function mayUse(client: ClientIdentity, tenant: string | undefined): boolean {
  return client.internal === true || client.tenants.includes('*') || (tenant !== undefined && client.tenants.includes(tenant));
}

/** Envelope check only (at MAIL FROM). */
export function authorizeEnvelope(client: ClientIdentity, mailFrom: string, tenantOf: TenantOf): SenderDecision {
  if (mailFrom === '') {
    return client.internal || client.allowNullSender ? { ok: true } : refuse('null_sender', nullSenderAnswer());
  }
  const raw = domainOf(mailFrom);
  const domain = normalizeDomain(raw);
  if (domain === null) {
    return client.internal || client.tenants.includes('*') ? { ok: true } : refuse('invalid_sender', invalidSenderAnswer(mailFrom));
  }
  const tenant = tenantOf(domain);
  return mayUse(client, tenant) ? { ok: true, tenant, domain } : refuse('envelope', spoofingAnswer(shown(raw, domain)), tenant);
}

/** Envelope and From: header (at end of DATA). */
export function authorizeSender(input: SenderInput): SenderDecision {
  const env = authorizeEnvelope(input.client, input.mailFrom, input.tenantOf);
  if (!env.ok) return env;
  if (input.client.internal || input.client.tenants.includes('*')) return env;
  // Both lists, as parsed by the intake and by our stricter reader (an address in both is
  // checked twice: cheaper than building a set of them).
  for (const list of [input.from ?? [], input.fromRaw ? parseAddressList(input.fromRaw) : []]) {
    for (const address of list) {
      const raw = domainOf(address);
      const domain = normalizeDomain(raw);
      if (domain === null) return refuse('header_from', spoofingAnswer(raw || address), env.tenant);
      if (!mayUse(input.client, input.tenantOf(domain))) return refuse('header_from', spoofingAnswer(shown(raw, domain)), env.tenant);
    }
  }
  return env;
}
