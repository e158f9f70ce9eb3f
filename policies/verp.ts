/**
 * Newsletter mail leaves with a per-message VERP return path (bounces+<ref>@<bounce domain>) so a
 * late DSN or complaint finds its tenant, campaign and subscriber: the ref is a random name for a
 * record kept in the store for VERP_TTL_MS (the inbound reports read it back).
 */
import { randomBytes } from 'node:crypto';
import { makeReturnPath } from '../listmonk-bridge/verp.js';
import type { Store } from '../src/store/types.js';
import type { MessageFacts, Verdict } from './types.js';

export interface VerpRef {
  tenant?: string;
  campaign?: string;
  subscriber?: string;
  /** Every recipient of the envelope: the only addresses a report about this ref may bounce. */
  recipients: string[];
  /** Records written before `recipients` existed: the envelope's first recipient. */
  recipient?: string;
  queueId: string;
}

/** The recipients a VERP record vouches for (older records: the first one only). */
export function verpRecipients(rec: VerpRef): string[] {
  return rec.recipients ?? (rec.recipient ? [rec.recipient] : []);
}

export const VERP_TTL_MS = 30 * 86_400_000;
export const verpKey = (ref: string) => `verp:${ref}`;

/** Whether this message gets a VERP return path: accepted newsletter mail with a sender. */
export const wantsVerp = (f: MessageFacts, v: Verdict): boolean => f.client.newsletter && v.action === 'accept' && !!f.mailFrom;

/** Stores the message's VERP record and answers its return path. */
export async function assignReturnPath(store: Store, bounceDomain: string, f: MessageFacts, v: Verdict, queueId: string): Promise<string> {
  const ref = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0');
  const rec: VerpRef = { tenant: v.tenant, campaign: f.headers.listmonkCampaign, subscriber: f.headers.listmonkSubscriber, recipients: f.recipients, queueId };
  await store.setValue(verpKey(ref), JSON.stringify(rec), VERP_TTL_MS);
  return makeReturnPath(ref, bounceDomain);
}
