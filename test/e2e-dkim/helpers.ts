/**
 * End-to-end DKIM helpers: a collecting smarthost (real smtp-server streaming every delivered
 * message to a file), the admin API call that generates a key and publishes its record on the
 * test DNS server, and a raw SMTP submission.
 */
import { createWriteStream } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SMTPServer } from 'smtp-server';
import type { TestDnsServer } from '../helpers/dns-server.js';
import { RawSmtp, type Reply } from '../helpers/raw-smtp.js';

export interface Delivered {
  from: string;
  to: string[];
  /** File holding the delivered bytes. */
  path: string;
}

export interface CollectingMx {
  port: number;
  delivered: Delivered[];
  /** Resolves with the first delivered message whose recipients include `rcpt`. */
  waitFor(rcpt: string, timeoutMs?: number): Promise<Delivered>;
  close(): Promise<void>;
}

export async function startCollectingMx(): Promise<CollectingMx> {
  const dir = mkdtempSync(join(tmpdir(), 'relais-mx-'));
  const delivered: Delivered[] = [];
  let n = 0;
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 64 * 1024 * 1024,
    onData(stream, session, cb) {
      const path = join(dir, `msg-${++n}.eml`);
      pipeline(stream, createWriteStream(path)).then(
        () => {
          delivered.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), path });
          cb(null, '2.0.0 Ok: delivered');
        },
        (err: Error) => cb(err),
      );
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = ((server as unknown as { server: import('node:net').Server }).server.address() as { port: number }).port;
  return {
    port,
    delivered,
    async waitFor(rcpt, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = delivered.find((d) => d.to.includes(rcpt));
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`nothing delivered to ${rcpt} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface ApiKey {
  domain: string;
  selector: string;
  algo: string;
  status: string;
  dns: { name: string; value: string };
}

/** POST /api/v1/dkim/{domain}/keys and publish the returned record on the test DNS server. */
export async function generateKeyViaApi(apiPort: number, token: string, dns: TestDnsServer, domain: string, body: Record<string, unknown> = {}): Promise<ApiKey> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/dkim/${encodeURIComponent(domain)}/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { key: ApiKey; dns: { name: string; value: string } };
  if (res.status !== 201) throw new Error(`generate key for ${domain}: ${res.status} ${JSON.stringify(json)}`);
  dns.zones[json.dns.name.toLowerCase()] = { TXT: [json.dns.value] };
  return json.key;
}

/** One transaction with the message bytes as given (dot-stuffed here); returns the DATA reply. */
export async function submitRaw(port: number, from: string, to: string[], message: Buffer, mailParams = ''): Promise<Reply> {
  const c = await RawSmtp.connect(port);
  try {
    await c.reply();
    await c.command('EHLO client.test');
    const mail = await c.command(`MAIL FROM:<${from}>${mailParams ? ` ${mailParams}` : ''}`);
    if (mail.code !== 250) return mail;
    for (const r of to) {
      const rr = await c.command(`RCPT TO:<${r}>`);
      if (rr.code !== 250) return rr;
    }
    const go = await c.command('DATA');
    if (go.code !== 354) return go;
    const stuffed = Buffer.from(message.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1');
    c.send(Buffer.concat([stuffed, Buffer.from(stuffed.subarray(-2).toString() === '\r\n' ? '.\r\n' : '\r\n.\r\n')]));
    return await c.reply(60_000);
  } finally {
    c.close();
  }
}

/** Header field names of a message, top to bottom (lower-case). */
export function headerNames(head: string): string[] {
  return head.split(/\r\n(?![ \t])/).map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
}

/** The header block of a message (up to the first empty line). */
export function headerBlock(raw: Buffer): string {
  const end = raw.indexOf('\r\n\r\n');
  return raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
}

/** Value of the `d=` and `s=` tags of every DKIM-Signature, top to bottom. */
export function signatures(head: string): Array<{ d: string; s: string; a: string }> {
  return head
    .split(/\r\n(?![ \t])/)
    .filter((l) => /^dkim-signature:/i.test(l))
    .map((l) => {
      const v = l.replace(/\r\n[ \t]+/g, ' ');
      const tag = (t: string) => new RegExp(`[;:\\s]${t}=([^;]+)`).exec(v)?.[1]?.replace(/\s+/g, '') ?? '';
      return { d: tag('d'), s: tag('s'), a: tag('a') };
    });
}
