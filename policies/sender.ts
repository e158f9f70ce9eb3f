/**
 * Sender authorisation (anti-spoofing): the envelope domain and every From: address domain (of
 * every From: header, wherever it sits) must belong to a tenant the client may send for; and a
 * message has exactly one From: header naming an address (RFC 5322 §3.6), except from newsletter
 * and trusted clients, whose software is the operator's. Clients with tenants ["*"] may send anything; the
 * null sender is only for Relais itself or clients allowed to use it. Pure: the tenant lookup is
 * passed in (already-normalised ASCII domain → tenant id).
 */
import type { ClientIdentity, Verdict } from './types.js';
import { parseAddressList } from './address.js';
import { domainOf, normalizeDomain } from '../src/util/domain.js';
import { fromCountAnswer, invalidSenderAnswer, nullSenderAnswer, spoofingAnswer } from './answers.js';

export type TenantOf = (asciiDomain: string) => string | undefined;

export interface SenderInput {
  client: ClientIdentity;
  /** Envelope sender, '' for <>. */
  mailFrom: string;
  /** From: addresses (parsed by the intake). */
  from?: readonly string[];
  /**
   * Raw value of each From: header; parsed here too so display-name tricks are judged on the
   * real address. Absent for an envelope-only check.
   */
  fromRaw?: readonly string[];
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
  const c = input.client;
  if (c.internal) return env;
  const raws = input.fromRaw ?? [];
  const parsed = raws.length === 1 ? parseAddressList(raws[0]!) : raws.flatMap((r) => parseAddressList(r));
  if (!c.newsletter && !c.trusted) {
    // One From:, with an address both readers see: several would let mail user agents show one
    // and the checks judge another; none leaves nothing to judge.
    if (raws.length !== 1) return refuse('from_count', fromCountAnswer(raws.length), env.tenant);
    if (parsed.length === 0 || input.from?.length === 0) return refuse('from_empty', fromCountAnswer(1), env.tenant);
  }
  if (c.tenants.includes('*')) return env;
  // Both lists, as parsed by the intake and by our stricter reader (an address in both is
  // checked twice: cheaper than building a set of them).
  for (const list of [input.from ?? [], parsed]) {
    for (const address of list) {
      const raw = domainOf(address);
      const domain = normalizeDomain(raw);
      if (domain === null) return refuse('header_from', spoofingAnswer(raw || address), env.tenant);
      if (!mayUse(input.client, input.tenantOf(domain))) return refuse('header_from', spoofingAnswer(shown(raw, domain)), env.tenant);
    }
  }
  return env;
}
