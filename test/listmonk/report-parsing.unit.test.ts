/**
 * Reports come from anyone on the inbound listener: one reading finds a DSN or a complaint, and
 * crafted inputs (no closing >, long runs without @, endless parts, huge boundaries) are read in
 * one pass and give a sensible answer instead of backtracking for ever.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { addrOf, parseReport } from '../../listmonk-bridge/reports.js';
import { parseMime, walk } from '../../listmonk-bridge/mime-lite.js';

const sample = (name: string) => new URL(`../fixtures/listmonk/reports/${name}`, import.meta.url).pathname;
const MiB = 1024 * 1024;

function arf(rcptTo: string, originalTo = 'x@example.org'): string {
  return [
    'From: fbl@isp.example', 'To: bounces+abc@bounce.example', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"', '',
    '--b1', 'Content-Type: text/plain', '', 'complaint', '',
    '--b1', 'Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'Version: 1', `Original-Rcpt-To: ${rcptTo}`, '',
    '--b1', 'Content-Type: text/rfc822-headers', '', `To: ${originalTo}`, 'X-Listmonk-Campaign: C-1', '',
    '--b1--', '',
  ].join('\r\n');
}

describe('report parsing', () => {
  it('reads a DSN or a complaint in one pass, and neither from ordinary mail', async () => {
    expect((await parseReport(await readFile(sample('gmail-dsn-hard.eml'))))?.kind).toBe('dsn');
    const c = await parseReport(await readFile(sample('rfc5965-arf.eml')));
    expect(c?.kind).toBe('arf');
    if (c?.kind === 'arf') expect(c.arf.recipient).toBe('user@example.com');
    expect(await parseReport('From: a@b.c\r\nSubject: hi\r\n\r\nhello\r\n')).toBeNull();
  });

  it('finds addresses as before', () => {
    expect(addrOf('Jean <jean@example.net>')).toBe('jean@example.net');
    expect(addrOf('jean@example.net (Jean)')).toBe('jean@example.net');
    expect(addrOf('rfc822; jean@example.net')).toBe('jean@example.net');
    expect(addrOf('<> , <a@b.example>')).toBe('a@b.example');
    expect(addrOf('@x a@ b@c.example')).toBe('b@c.example');
    expect(addrOf('nobody here')).toBeUndefined();
    expect(addrOf(undefined)).toBeUndefined();
  });

  it('reads 2 MiB of crafted address fields in one pass', async () => {
    expect(addrOf('<'.repeat(2 * MiB))).toBeUndefined();
    expect(addrOf('a'.repeat(2 * MiB))).toBeUndefined();
    expect(addrOf('a '.repeat(MiB) + 'x@y.example')).toBe('x@y.example');
    expect(addrOf('@'.repeat(2 * MiB))?.length).toBe(2 * MiB);
    const r = await parseReport(arf('<'.repeat(900 * 1024), 'a'.repeat(900 * 1024)));
    expect(r?.kind).toBe('arf');
    if (r?.kind === 'arf') expect(r.arf.campaignUuid).toBe('c-1');
  });

  it('reads at most 100 parts, and no boundary longer than RFC 2046 allows', () => {
    const many = `Content-Type: multipart/mixed; boundary="b"\r\n\r\n${'--b\r\n\r\nx\r\n'.repeat(200_000)}--b--\r\n`;
    expect(walk(parseMime(Buffer.from(many))).length).toBeLessThanOrEqual(100);
    const long = 'b'.repeat(5000);
    const huge = parseMime(Buffer.from(`Content-Type: multipart/mixed; boundary="${long}"\r\n\r\n${`\r\n--${long.slice(1)}`.repeat(300)}\r\n`));
    expect(huge.children).toEqual([]);
  });
});
