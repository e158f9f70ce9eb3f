/**
 * RFC 3464 DSN building (relay/bounce/dsn.ts), read back with the DSN parser the Listmonk bridge
 * uses for reports arriving from other MTAs (listmonk-bridge/reports.ts) and with mime-lite.
 */
import { describe, expect, it } from 'vitest';
import { buildDsn, type DsnInput } from '../../relay/bounce/dsn.js';
import { parseDsn } from '../../listmonk-bridge/reports.js';
import { parseMime, walk } from '../../listmonk-bridge/mime-lite.js';

const NOW = Date.UTC(2026, 11, 7, 10, 30, 0);

const input = (over: Partial<DsnInput> = {}): DsnInput => ({
  action: 'failed',
  hostname: 'relais.example.org',
  to: 'alice@laruche.example',
  queueId: 'B7K2QX9F3M',
  arrivalDate: NOW - 3_600_000,
  recipients: [
    { address: 'bob@gmail.test', status: '5.1.1', reply: { code: 550, enhanced: '5.1.1', text: 'The email account that you tried to reach does not exist.' }, remoteMta: 'mx.gmail.test', lastAttemptAt: NOW - 60_000 },
    { address: 'zoé@orange.test', orcpt: 'zoe@orange.test', status: '4.4.7', reply: { code: 421, enhanced: '4.7.0', text: 'Service temporairement indisponible' } },
  ],
  headers: Buffer.from('From: Alice <alice@laruche.example>\nTo: bob@gmail.test\nSubject: Réunion\nMessage-ID: <m1@laruche.example>\n', 'utf8'),
  originalSubject: 'Réunion',
  now: NOW,
  ...over,
});

describe('buildDsn', () => {
  it('is a multipart/report that a DSN parser reads back: action, status, diagnostic, remote MTA per recipient', async () => {
    const dsn = buildDsn(input());
    const report = await parseDsn(dsn.bytes);
    expect(report).not.toBeNull();
    const text = dsn.bytes.toString('latin1');
    expect(text).toContain('Content-Type: multipart/report; report-type=delivery-status;');
    expect(text).toContain('Reporting-MTA: dns; relais.example.org\r\nX-Relais-Queue-ID: B7K2QX9F3M\r\nArrival-Date: Mon, 07 Dec 2026 09:30:00 +0000');
    expect(text).toContain('Diagnostic-Code: smtp; 550 5.1.1 The email account');
    expect(report!.reportingMta).toBe('relais.example.org');
    expect(report!.originalMessageId).toBe('<m1@laruche.example>');
    expect(report!.recipients).toEqual([
      expect.objectContaining({ finalRecipient: 'bob@gmail.test', action: 'failed', status: '5.1.1', type: 'hard', remoteMta: 'mx.gmail.test', diagnosticCode: '550 5.1.1 The email account that you tried to reach does not exist.' }),
      // The delivery-status part is 7-bit: a UTF-8 address is shown with '?' there.
      expect.objectContaining({ finalRecipient: 'zo?@orange.test', originalRecipient: 'zoe@orange.test', action: 'failed', status: '4.4.7' }),
    ]);
  });

  it('comes from MAILER-DAEMON, auto-replied, with an encoded French/English subject and a unique Message-ID', () => {
    const a = buildDsn(input());
    const b = buildDsn(input());
    const head = a.bytes.toString('latin1').split('\r\n\r\n')[0]!;
    expect(head).toMatch(/^From: =\?UTF-8\?B\?[^\r\n]+<MAILER-DAEMON@relais\.example\.org>$/m);
    expect(head).toContain('To: <alice@laruche.example>');
    expect(head).toContain('Auto-Submitted: auto-replied');
    expect(head).toContain('Date: Mon, 07 Dec 2026 10:30:00 +0000');
    expect(head).not.toMatch(/[^\x00-\x7f]/); // headers stay ASCII
    expect(a.subject).toBe('Message non distribué / Undelivered Mail Returned to Sender');
    expect(a.messageId).toMatch(/^<[0-9a-f]{24}\.dsn@relais\.example\.org>$/);
    expect(a.messageId).not.toBe(b.messageId);
  });

  it('explains in French first, then English, naming each recipient and the server reply', () => {
    const parts = walk(parseMime(buildDsn(input()).bytes));
    const human = parts.find((p) => p.contentType === 'text/plain')!.body.toString('utf8');
    const fr = human.indexOf("Votre message (« Réunion ») n'a pas pu être distribué");
    const en = human.indexOf('Your message ("Réunion") could not be delivered');
    expect(fr).toBeGreaterThanOrEqual(0);
    expect(en).toBeGreaterThan(fr);
    expect(human).toContain('<bob@gmail.test>\r\n    mx.gmail.test : 550 5.1.1 The email account');
    expect(human).toContain('<zoé@orange.test>');
  });

  it('attaches the original headers with CRLF line ends', () => {
    const parts = walk(parseMime(buildDsn(input()).bytes));
    const headers = parts.find((p) => p.contentType === 'text/rfc822-headers')!.body.toString('utf8');
    expect(headers).toContain('From: Alice <alice@laruche.example>\r\nTo: bob@gmail.test\r\nSubject: Réunion\r\n');
    expect(headers).not.toMatch(/[^\r]\n/);
  });

  it('a delay warning says delivery goes on, until when', async () => {
    const until = NOW + 4 * 86_400_000;
    const dsn = buildDsn(input({ action: 'delayed', willRetryUntil: until, recipients: [{ address: 'carl@free.test', status: '4.4.7' }] }));
    expect(dsn.subject).toBe('Distribution retardée / Delivery Status Notification (Delay)');
    const report = await parseDsn(dsn.bytes);
    expect(report!.recipients).toEqual([expect.objectContaining({ finalRecipient: 'carl@free.test', action: 'delayed', status: '4.4.7', type: 'soft' })]);
    const text = dsn.bytes.toString('latin1');
    expect(text).toContain('Will-Retry-Until: Fri, 11 Dec 2026 10:30:00 +0000');
    const human = walk(parseMime(dsn.bytes)).find((p) => p.contentType === 'text/plain')!.body.toString('utf8');
    expect(human).toContain("Aucune action n'est nécessaire : de nouvelles tentatives auront lieu jusqu'au 2026-12-11T10:30:00.000Z");
  });
});
