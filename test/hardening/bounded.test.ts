/**
 * What an outsider can make the relay hold, against a real `relais start` child process with an
 * inbound listener (anonymous remote MTAs may send reports to the VERP addresses):
 *  - 200 anonymous messages with distinct 900 KiB From: headers leave RSS within 64 MiB
 *    (nothing derived from an anonymous message is cached);
 *  - a header section past smtp.max_header_size gets 552 5.3.4 and nothing is kept;
 *  - a report past smtp.max_report_size gets 552 5.3.4 while it streams, never spooled whole;
 * and the relay keeps answering after each.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp, type Reply } from '../helpers/raw-smtp.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { spoolFileNames, spooledEnvelopes } from '../helpers/spool-files.js';

const BOUNCE_DOMAIN = 'bounce.relais.test';
const MiB = 1024 * 1024;

/** Resident memory of a process, in bytes (Linux /proc). */
function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

async function open(port: number): Promise<RawSmtp> {
  const c = await RawSmtp.connect(port);
  expect((await c.reply()).code).toBe(220);
  expect((await c.command('EHLO mta.remote.example')).code).toBe(250);
  return c;
}

/** One report-shaped transaction to a VERP address; the reply at the end of DATA. */
async function report(c: RawSmtp, message: Buffer | string): Promise<Reply> {
  expect((await c.command('MAIL FROM:<>')).code).toBe(250);
  expect((await c.command(`RCPT TO:<bounces+r${Math.random().toString(36).slice(2, 10)}@${BOUNCE_DOMAIN}>`)).code).toBe(250);
  expect((await c.command('DATA')).code).toBe(354);
  c.send(message);
  c.send('\r\n.\r\n');
  return c.reply(60_000);
}

/** Message files left in the spool (a refused message leaves none; spares made ahead are empty). */
const spoolFiles = (dataDir: string): string[] => spoolFileNames(dataDir, 'messages');

describe('bounded resources on the inbound listener', () => {
  let relay: RelayProcess;
  let inbound: number;
  beforeAll(async () => {
    relay = await startRelay({
      env: {
        RELAIS_SMARTHOST: '127.0.0.1:9',
        RELAIS_QUEUE_RETRY_FIRST: '1h',
        RELAIS_HOSTNAME: 'relais.test',
        RELAIS_BOUNCE_DOMAIN: BOUNCE_DOMAIN,
        RELAIS_INBOUND_LISTEN: '127.0.0.1:0',
        RELAIS_POSTMASTER_FORWARD: 'admin@relais.test',
      },
    });
    inbound = relay.smtpPorts[1]!;
  });
  afterAll(async () => {
    await relay?.stop();
  });

  it('200 anonymous messages with distinct 900 KiB From: headers grow RSS by less than 64 MiB', async () => {
    const before = rss(relay.child.pid!);
    const filler = 'x'.repeat(900 * 1024);
    // One connection, one message after the other, as a remote MTA sends: what stays is what
    // the relay keeps, not how much garbage V8 lets pile up between collections.
    const c = await open(inbound);
    for (let i = 0; i < 200; i++) {
      const r = await report(c, `From: "${i} ${filler}" <mta${i}@remote.example>\r\nSubject: ${i}\r\n\r\nnot a report\r\n`);
      expect(r.code, r.text).toBe(250);
    }
    c.close();
    // What the relay keeps stays; garbage V8 has not collected yet goes within seconds of idling
    // (its memory reducer): the lowest reading over 5 s is what was kept.
    let after = rss(relay.child.pid!);
    for (const end = Date.now() + 5_000; Date.now() < end && after - before >= 64 * MiB; ) {
      await new Promise((r) => setTimeout(r, 250));
      after = Math.min(after, rss(relay.child.pid!));
    }
    const grown = after - before;
    expect(grown, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`).toBeLessThan(64 * MiB);
    expect(spooledEnvelopes(relay.dataDir)).toEqual([]);
  });

  it('a header section past smtp.max_header_size (1 MiB) gets 552 5.3.4 and nothing is kept', async () => {
    const c = await open(inbound);
    const pad = `X-Pad: ${'p'.repeat(990)}\r\n`.repeat(1100);
    const r = await report(c, `From: mta@remote.example\r\n${pad}Subject: big\r\n\r\nbody\r\n`);
    expect(r.code).toBe(552);
    expect(r.text).toMatch(/^5\.3\.4 En-têtes trop volumineux \(maximum 1048576 octets\) \/ Header section exceeds fixed limit of 1048576 bytes$/);
    expect(spoolFiles(relay.dataDir)).toEqual([]);
    // The session goes on.
    expect((await c.command('NOOP')).code).toBe(250);
    c.close();
  });

  it('a report past smtp.max_report_size (2 MiB) gets 552 5.3.4 while it streams, and is not spooled', async () => {
    const c = await open(inbound);
    expect((await c.command('MAIL FROM:<>')).code).toBe(250);
    expect((await c.command(`RCPT TO:<bounces+big1@${BOUNCE_DOMAIN}>`)).code).toBe(250);
    expect((await c.command('DATA')).code).toBe(354);
    c.send('From: mta@remote.example\r\nSubject: huge\r\n\r\n');
    const line = `${'b'.repeat(998)}\r\n`;
    let sent = 0;
    let maxSpooled = 0;
    // 8 MiB, watching the spool while it streams: never more than the bound is written.
    while (sent < 8 * MiB) {
      c.send(line.repeat(256));
      sent += line.length * 256;
      for (const f of spoolFiles(relay.dataDir)) {
        try {
          maxSpooled = Math.max(maxSpooled, readFileSync(join(relay.dataDir, 'spool', 'messages', f)).length);
        } catch {
          /* discarded meanwhile */
        }
      }
      await new Promise((r) => setImmediate(r));
    }
    c.send('.\r\n');
    const r = await c.reply(60_000);
    expect(r.code).toBe(552);
    expect(r.text).toMatch(/^5\.3\.4 Rapport trop volumineux \(maximum 2097152 octets\) \/ Report size exceeds fixed limit of 2097152 bytes$/);
    expect(maxSpooled).toBeLessThanOrEqual(2 * MiB + 64 * 1024);
    expect(spoolFiles(relay.dataDir)).toEqual([]);
    expect((await c.command('NOOP')).code).toBe(250);
    c.close();
  });
});
