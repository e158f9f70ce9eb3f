/**
 * Bulk mail from a mailbox, end to end: Mailcow's Postfix relays a 120-recipient message to Relais
 * as three transactions (50 + 50 + 20, same Message-ID); each gets 550 5.7.1 with the reason and
 * the Listmonk URL, and exactly one campaign draft appears in the tenant's Listmonk — also when
 * Listmonk is down at the time (the worker retries until it is back).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeListmonk, type FakeListmonk } from '../listmonk/listmonk-server.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { PUBLIC_URL, clientYaml, dialogue, listmonkYaml, startE2eRelay, transaction, waitUntil, type Creds } from './helpers.js';

const recipients = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i + 1}@destinataires.example`);

function bulkMessage(from: string, messageId: string, subject: string): string {
  return [
    `From: Alice Martin <${from}>`,
    'To: undisclosed-recipients:;',
    `Subject: ${subject}`,
    `Message-ID: ${messageId}`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Bonjour à toutes et tous,',
    '',
    'L’assemblée générale aura lieu le 12 décembre à la Maison des associations.',
    '',
  ].join('\r\n');
}

/** Postfix splits at 50 recipients per transaction (smtp_destination_recipient_limit). */
async function sendSplit(port: number, auth: Creds, from: string, messageId: string, subject: string) {
  const all = recipients(120, messageId.slice(1, 6));
  const c = await dialogue(port, auth);
  const finals = [];
  for (const part of [all.slice(0, 50), all.slice(50, 100), all.slice(100)]) {
    const t = await transaction(c, from, part, bulkMessage(from, messageId, subject));
    expect(t.mail.code).toBe(250);
    expect(t.rcpts.every((r) => r.code === 250)).toBe(true);
    finals.push(t.final!);
  }
  await c.command('QUIT');
  c.close();
  return finals;
}

describe('bulk mail from a mailbox is redirected to Listmonk', () => {
  let lm: FakeListmonk;
  let relay: RelayProcess;
  let mailcow: Creds;

  beforeAll(async () => {
    lm = await startFakeListmonk();
    const client = await clientYaml('mailcow', { tenants: ['laruche'] });
    mailcow = client.creds;
    relay = await startE2eRelay(
      [
        'tenants:',
        '  - id: laruche',
        '    name: La Ruche',
        '    domains: [laruche.example]',
        // Postfix sends 50 recipients per transaction: the first one already reaches the threshold.
        '    bulk: { recipients_per_message: 50, action: redirect }',
        `    listmonk: ${listmonkYaml(lm)}`,
        'clients:',
        client.yaml,
      ].join('\n'),
      { RELAIS_SMARTHOST: '127.0.0.1:9', RELAIS_QUEUE_RETRY_FIRST: '1h' },
    );
  });
  afterAll(async () => {
    await relay?.stop();
    await lm?.close();
  });

  it('answers 550 5.7.1 with the reason and the Listmonk URL to each of the three transactions, and drafts once', async () => {
    const finals = await sendSplit(relay.smtpPort, mailcow, 'alice@laruche.example', '<ag-2026@laruche.example>', 'Assemblée générale du 12 décembre');
    expect(finals.map((f) => f.code)).toEqual([550, 550, 550]);
    for (const [i, f] of finals.entries()) {
      expect(f.text).toMatch(/^5\.7\.1 Message non envoyé : /);
      expect(f.text).toContain(`${[50, 100, 120][i]} destinataires`);
      expect(f.text).toContain(`${PUBLIC_URL}/admin/campaigns`);
      expect(f.text).toContain('Not sent: ');
    }
    const campaign = await waitUntil(() => lm.campaigns[0], 'the campaign draft');
    expect(campaign).toMatchObject({ status: 'draft', subject: 'Assemblée générale du 12 décembre', from_email: 'alice@laruche.example' });
    expect(campaign.body).toContain('L’assemblée générale aura lieu le 12 décembre');
    expect(campaign.lists.map((l: { name: string }) => l.name)).toEqual(['Relais – alice@laruche.example']);
    expect(lm.lists.find((l) => l.id === campaign.lists[0].id)).toMatchObject({ name: 'Relais – alice@laruche.example', optin: 'double', type: 'private' });
    await relay.waitForLog((e) => e.msg === 'listmonk draft created');
    expect(lm.campaigns).toHaveLength(1);
    expect(lm.calls('POST /api/campaigns')).toHaveLength(1);
    expect(lm.violations).toEqual([]);
  });

  it('still answers 550 with the URL while Listmonk is down, and drafts once it is back', async () => {
    const before = lm.campaigns.length;
    await lm.fail({ mode: 'down' });
    const finals = await sendSplit(relay.smtpPort, mailcow, 'bob@laruche.example', '<fete-2026@laruche.example>', 'Fête de quartier');
    expect(finals.map((f) => f.code)).toEqual([550, 550, 550]);
    for (const f of finals) expect(f.text).toContain(`${PUBLIC_URL}/admin/campaigns`);
    // The worker has tried and failed (a job with an error is pending) before Listmonk comes back.
    await relay.waitForLog((e) => e.msg === 'listmonk draft jobs failed, will retry');
    expect(lm.campaigns).toHaveLength(before);
    await lm.recover();
    const campaign = await waitUntil(() => lm.campaigns.find((c) => c.subject === 'Fête de quartier'), 'the draft after recovery');
    expect(campaign).toMatchObject({ status: 'draft', from_email: 'bob@laruche.example' });
    expect(campaign.lists.map((l: { name: string }) => l.name)).toEqual(['Relais – bob@laruche.example']);
    expect(lm.campaigns.filter((c) => c.subject === 'Fête de quartier')).toHaveLength(1);
    expect(lm.violations).toEqual([]);
  });
});
