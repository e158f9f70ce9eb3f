/**
 * Who an inbound DSN or complaint is about comes from what Relais stored when it sent the message
 * (the VERP record: tenant, campaign, subscriber, every recipient of the envelope), never from the
 * report's text: a report cannot name a subscriber or campaign UUID of its choosing, nor bounce
 * an address that was not a recipient of that message. Real store (LMDB), real record writer
 * (policies/verp.ts), the inbound report handler, and a stand-in for the bounce outbox that only
 * records what would be posted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createInboundReports, type InboundReports } from '../../listmonk-bridge/inbound-reports.js';
import type { BounceFeedback, BounceFeedbackEvent } from '../../listmonk-bridge/bounce-feedback.js';
import { assignReturnPath } from '../../policies/verp.js';
import type { MessageFacts, Verdict } from '../../policies/types.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { arfMessage, dsnMessage } from '../e2e-listmonk/helpers.js';

const BOUNCE = 'bounce.laruche.example';
const CAMPAIGN = '11111111-1111-4111-8111-111111111111';
const SUBSCRIBER = '22222222-2222-4222-8222-222222222222';
const FORGED = '99999999-9999-4999-8999-999999999999';

let dir: string;
let store: Store;
let reports: InboundReports;
const posted: BounceFeedbackEvent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relais-attribution-'));
  store = await openStore({ dataDir: dir, prefix: 'attr:' });
  const feedback = { report: async (ev: BounceFeedbackEvent) => (posted.push(ev), { queued: true, id: String(posted.length) }) } as unknown as BounceFeedback;
  reports = createInboundReports({ store, feedback, log: pino({ level: 'silent' }), bounceDomain: BOUNCE });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The VERP return path Relais gives a newsletter message with these headers and recipients. */
async function sent(recipients: string[], headers: { listmonkCampaign?: string; listmonkSubscriber?: string }): Promise<string> {
  const facts = { client: { name: 'listmonk', newsletter: true }, mailFrom: 'lettre@laruche.example', recipients, headers, size: 1, now: Date.now() } as unknown as MessageFacts;
  const verdict = { action: 'accept', reason: 'ok', tenant: 'la-ruche' } as Verdict;
  return assignReturnPath(store, BOUNCE, facts, verdict, 'QUEUEID000000001');
}

/** Hands a report to the inbound handler as the intake does. */
async function receive(verp: string, text: string): Promise<BounceFeedbackEvent[]> {
  const before = posted.length;
  const bodyPath = join(dir, `report-${before}.eml`);
  writeFileSync(bodyPath, text);
  const facts = { client: { address: '192.0.2.1' }, mailFrom: '', recipients: [verp], headers: {}, size: text.length, now: Date.now() } as unknown as MessageFacts;
  const d = await reports.handle({ queueId: 'R', facts, headerBlock: Buffer.alloc(0), bodyPath, flushBody: async () => undefined });
  expect(d.consume).toBe(true);
  return posted.slice(before);
}

const failed = (to: string, recipient: string, original: { campaign?: string; subscriber?: string }) =>
  dsnMessage({ to, recipient, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 User unknown', original: { from: 'lettre@laruche.example', ...original } });

describe('inbound report attribution', () => {
  it('a record without subscriber or campaign: the UUIDs written in the DSN are not posted', async () => {
    const verp = await sent(['lecteur@example.net'], {});
    const events = await receive(verp, failed(verp, 'lecteur@example.net', { campaign: FORGED, subscriber: FORGED }));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ tenantId: 'la-ruche', email: 'lecteur@example.net', type: 'hard' });
    expect(events[0]!.subscriber_uuid).toBeUndefined();
    expect(events[0]!.campaign_uuid).toBeUndefined();
    expect(JSON.stringify(events)).not.toContain(FORGED);
  });

  it('the stored UUIDs win over the ones in the report', async () => {
    const verp = await sent(['lectrice@example.net'], { listmonkCampaign: CAMPAIGN, listmonkSubscriber: SUBSCRIBER });
    const events = await receive(verp, failed(verp, 'lectrice@example.net', { campaign: FORGED, subscriber: FORGED }));
    expect(events).toEqual([expect.objectContaining({ email: 'lectrice@example.net', campaign_uuid: CAMPAIGN, subscriber_uuid: SUBSCRIBER })]);
  });

  it('every recipient of the envelope is known: a DSN about the second one bounces the second one', async () => {
    const verp = await sent(['premier@example.net', 'second@example.org'], { listmonkCampaign: CAMPAIGN });
    const events = await receive(verp, failed(verp, 'second@example.org', {}));
    expect(events.map((e) => e.email)).toEqual(['second@example.org']);
    const arf = await receive(verp, arfMessage({ to: verp, recipient: 'premier@example.net', original: { from: 'lettre@laruche.example' } }));
    expect(arf).toEqual([expect.objectContaining({ email: 'premier@example.net', type: 'complaint', campaign_uuid: CAMPAIGN })]);
  });

  it('a report naming an address that was not a recipient bounces nobody of a multi-recipient message', async () => {
    const verp = await sent(['premier@example.net', 'second@example.org'], {});
    expect(await receive(verp, failed(verp, 'victime@example.com', {}))).toEqual([]);
    expect(await receive(verp, arfMessage({ to: verp, recipient: 'victime@example.com', original: { from: 'lettre@laruche.example' } }))).toEqual([]);
  });

  it('a single-recipient message whose DSN renamed the recipient (forwarding) still bounces the stored recipient', async () => {
    const verp = await sent(['ancien@example.net'], {});
    const events = await receive(verp, failed(verp, 'nouveau@ailleurs.example', {}));
    expect(events.map((e) => e.email)).toEqual(['ancien@example.net']);
  });
});
