/**
 * End-to-end helpers for the tenants/policies tests: a relay started from a YAML file (store:
 * real Redis under a unique prefix, or the embedded LMDB store), SMTP AUTH clients, and one
 * SMTP transaction over a raw socket that reports every reply.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { hashPassword } from '../../src/clients/password.js';
import type { Envelope } from '../../relay/spool/envelope.js';
import { RawSmtp, type Reply } from '../helpers/raw-smtp.js';
import { startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** Accepted mail stays queued: deliveries go to a closed port and are retried an hour later. */
export const NO_DELIVERY = { RELAIS_SMARTHOST: '127.0.0.1:9', RELAIS_QUEUE_RETRY_FIRST: '1h' };

export const PASSWORD = 'secret-pw';
let cachedHash: Promise<string> | undefined;
/** One scrypt hash of PASSWORD shared by every client of a test file (hashing is slow on purpose). */
export const passwordHash = (): Promise<string> => (cachedHash ??= hashPassword(PASSWORD));

export const uniquePrefix = (tag: string): string => `test-e2e-${tag}-${randomBytes(5).toString('hex')}:`;

export type StoreKind = 'redis' | 'embedded';

export interface PolicyRelayOptions {
  yaml: string;
  store: StoreKind;
  /** Redis key prefix (default: a fresh one). */
  prefix?: string;
  env?: Record<string, string>;
  dataDir?: string;
}

export async function startPolicyRelay(o: PolicyRelayOptions): Promise<RelayProcess & { prefix?: string }> {
  const dir = tempDir('relais-e2e-');
  const prefix = o.store === 'redis' ? (o.prefix ?? uniquePrefix('pol')) : undefined;
  const env: Record<string, string> = { ...NO_DELIVERY, RELAIS_HOSTNAME: 'relais.test', ...o.env };
  if (prefix) Object.assign(env, { RELAIS_REDIS_URL: REDIS_URL, RELAIS_STORE_PREFIX: prefix });
  const relay = await startRelay({ env, configFile: writeYaml(dir, o.yaml), dataDir: o.dataDir ?? join(dir, 'data') });
  return Object.assign(relay, { prefix });
}

export interface MessageSpec {
  from: string;
  to: string[];
  /** From: header value (default: the envelope sender; null: no From: header). */
  headerFrom?: string | null;
  messageId?: string;
  subject?: string;
  extraHeaders?: string[];
  body?: string;
  /** ESMTP parameters of MAIL FROM (e.g. "SMTPUTF8"). */
  mailParams?: string;
}

export function buildMessage(m: MessageSpec): string {
  const lines = [
    ...(m.headerFrom === null ? [] : [`From: ${m.headerFrom ?? m.from}`]),
    `To: ${m.to.length > 3 ? 'undisclosed-recipients:;' : m.to.join(', ')}`,
    `Subject: ${m.subject ?? 'Bonjour'}`,
    `Message-ID: ${m.messageId ?? `<${randomBytes(8).toString('hex')}@test>`}`,
    `Date: ${new Date().toUTCString()}`,
    ...(m.extraHeaders ?? []),
    '',
    m.body ?? 'Un message de test.\r\nA test message.',
  ];
  return lines.join('\r\n');
}

export interface TransactionResult {
  mail: Reply;
  rcpts: Reply[];
  /** Reply at end of DATA (absent when MAIL FROM or every RCPT was refused). */
  data?: Reply;
  /** "queued as" id of an accepted message. */
  queueId?: string;
}

/** An authenticated SMTP session. */
export class Session {
  private constructor(readonly c: RawSmtp) {}

  static async open(port: number, user?: string, password = PASSWORD): Promise<Session> {
    const c = await RawSmtp.connect(port);
    const greet = await c.reply();
    if (greet.code !== 220) throw new Error(`greeting ${greet.code} ${greet.text}`);
    const ehlo = await c.command('EHLO client.test');
    if (ehlo.code !== 250) throw new Error(`EHLO ${ehlo.code}`);
    if (user) {
      const a = await c.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`);
      if (a.code !== 235) throw new Error(`AUTH ${user}: ${a.code} ${a.text}`);
    }
    return new Session(c);
  }

  async send(m: MessageSpec): Promise<TransactionResult> {
    const mail = await this.c.command(`MAIL FROM:<${m.from}>${m.mailParams ? ` ${m.mailParams}` : ''}`);
    if (mail.code !== 250) return { mail, rcpts: [] };
    const rcpts: Reply[] = [];
    for (const r of m.to) rcpts.push(await this.c.command(`RCPT TO:<${r}>`));
    if (!rcpts.some((r) => r.code === 250)) {
      await this.c.command('RSET');
      return { mail, rcpts };
    }
    const go = await this.c.command('DATA');
    if (go.code !== 354) throw new Error(`DATA ${go.code} ${go.text}`);
    const text = buildMessage(m).replace(/^\./gm, '..');
    this.c.send(`${text}\r\n.\r\n`);
    const data = await this.c.reply(30_000);
    return { mail, rcpts, data, queueId: /queued as (\S+)/.exec(data.text)?.[1] };
  }

  async close(): Promise<void> {
    try {
      await this.c.command('QUIT');
    } catch {
      /* already closed */
    }
    this.c.close();
  }
}

/** One message in its own session. */
export async function sendOne(port: number, user: string, m: MessageSpec): Promise<TransactionResult> {
  const s = await Session.open(port, user);
  try {
    return await s.send(m);
  } finally {
    await s.close();
  }
}

export const recipients = (n: number, domain = 'dest.example'): string[] => Array.from({ length: n }, (_, i) => `r${i}@${domain}`);

/** Every envelope in a data dir's spool, with its state (see ../helpers/spool-files.ts). */
export { spooledEnvelopes as spoolEnvelopes } from '../helpers/spool-files.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(50);
  }
}

/** "451 4.7.1 text" of a reply, for readable assertions. */
export const line = (r: Reply | undefined): string => (r ? `${r.code} ${r.text}` : '(none)');
