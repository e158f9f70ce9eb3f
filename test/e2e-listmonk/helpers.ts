/**
 * End-to-end parts for the Listmonk bridge: the built relay as a child process (YAML tenants and
 * clients + RELAIS_* env), the Listmonk-compatible server, a test MX (smart host), raw SMTP
 * transactions, Listmonk-like and remote-MTA-like messages (campaign mail, DSNs, ARF reports).
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import nodemailer from 'nodemailer';
import { expect } from 'vitest';
import { hashPassword } from '../../src/clients/password.js';
import { RawSmtp, type Reply } from '../helpers/raw-smtp.js';
import { dropRedisPrefix } from '../store/redis-cleanup.js';
import { startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';

export const BOUNCE_DOMAIN = 'bounce.laruche.example';
export const PUBLIC_URL = 'https://listes.laruche.example';
export const ADMIN_TOKEN = `admin-${randomBytes(12).toString('hex')}`;

export interface Creds {
  user: string;
  pass: string;
}

/** A client entry (password only: an anonymous 127.0.0.1 must stay unknown to the relay). */
export async function clientYaml(name: string, o: { tenants: string[]; newsletter?: boolean; allowNullSender?: boolean }): Promise<{ yaml: string; creds: Creds }> {
  const pass = `pw-${name}-${randomBytes(6).toString('hex')}`;
  const yaml = [
    `  - name: ${name}`,
    `    password_hash: "${await hashPassword(pass)}"`,
    `    tenants: [${o.tenants.join(', ')}]`,
    `    newsletter: ${o.newsletter ?? false}`,
    `    allow_null_sender: ${o.allowNullSender ?? false}`,
  ].join('\n');
  return { yaml, creds: { user: name, pass } };
}

export function listmonkYaml(lm: { url: string; user: string; token: string }): string {
  return `{ url: "${lm.url}", public_url: "${PUBLIC_URL}", user: "${lm.user}", token: "${lm.token}" }`;
}

/** Starts the relay on a fresh data dir with Redis under a unique prefix (dropped once it stops). */
export async function startE2eRelay(yaml: string, env: Record<string, string> = {}): Promise<RelayProcess> {
  const dir = tempDir('relais-e2e-lm-');
  const prefix = `test-e2e-lm-${randomBytes(6).toString('hex')}:`;
  const relay = await startRelay({
    configFile: writeYaml(dir, yaml),
    env: {
      RELAIS_REDIS_URL: 'redis://127.0.0.1:6379',
      RELAIS_STORE_PREFIX: prefix,
      RELAIS_HOSTNAME: 'relais.test',
      RELAIS_ADMIN_TOKEN: ADMIN_TOKEN,
      RELAIS_LISTMONK_RETRY_FIRST: '200ms',
      RELAIS_LISTMONK_RETRY_MAX: '500ms',
      ...env,
    },
  });
  const stop = relay.stop.bind(relay);
  relay.stop = async (signal) => {
    const code = await stop(signal);
    await dropRedisPrefix([prefix]);
    return code;
  };
  return relay;
}

/** Admin API call with the env admin token. */
export async function api(relay: RelayProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${relay.apiPort}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

/** An active DKIM key for the domain, so well-formed campaign mail is aligned (not flagged). */
export async function dkimKey(relay: RelayProcess, domain: string): Promise<void> {
  const r = await api(relay, 'POST', `/dkim/${domain}/keys`, { algo: 'ed25519' });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
}

export async function dialogue(port: number, auth?: Creds): Promise<RawSmtp> {
  const c = await RawSmtp.connect(port);
  expect((await c.reply()).code).toBe(220);
  expect((await c.command('EHLO mta.remote.example')).code).toBe(250);
  if (auth) {
    const r = await c.command(`AUTH PLAIN ${Buffer.from(`\0${auth.user}\0${auth.pass}`).toString('base64')}`);
    expect(r.code, r.text).toBe(235);
  }
  return c;
}

/** One transaction: MAIL, RCPTs (pipelined), DATA. Returns the RCPT replies and the final reply. */
export async function transaction(c: RawSmtp, from: string, to: string[], message: string): Promise<{ mail: Reply; rcpts: Reply[]; data?: Reply; final?: Reply }> {
  c.send(`MAIL FROM:<${from}>\r\n${to.map((t) => `RCPT TO:<${t}>\r\n`).join('')}`);
  const mail = await c.reply();
  const rcpts: Reply[] = [];
  for (let i = 0; i < to.length; i++) rcpts.push(await c.reply());
  if (mail.code !== 250 || !rcpts.some((r) => r.code === 250)) {
    await c.command('RSET');
    return { mail, rcpts };
  }
  const data = await c.command('DATA');
  if (data.code !== 354) return { mail, rcpts, data };
  const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
  c.send(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
  return { mail, rcpts, data, final: await c.reply(15_000) };
}

/** A pooled nodemailer transport that logs in like Listmonk: STARTTLS, then AUTH LOGIN. */
export function listmonkTransport(port: number, auth: Creds, maxConnections = 5) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    auth: { user: auth.user, pass: auth.pass },
    authMethod: 'LOGIN',
    tls: { rejectUnauthorized: false },
    pool: true,
    maxConnections,
    maxMessages: Infinity,
    getSocket: (_o: unknown, cb: (err: Error | null, s?: { connection: Socket }) => void) => {
      const socket = netConnect(port, '127.0.0.1');
      socket.setNoDelay(true);
      socket.once('connect', () => cb(null, { connection: socket }));
      socket.once('error', (err) => cb(err));
    },
  } as never);
}

export interface CampaignMail {
  from: string;
  to: string;
  campaign: string;
  subscriber: string;
  subject?: string;
  /** Omit List-Unsubscribe / List-Unsubscribe-Post (breaks the bulk-sender rules). */
  noUnsubscribe?: boolean;
}

/** A message as Listmonk builds it (its campaign headers, RFC 8058 one-click unsubscribe). */
export function campaignMessage(m: CampaignMail) {
  const unsub = `https://listes.laruche.example/subscription/${m.campaign}/${m.subscriber}`;
  return {
    from: m.from,
    to: m.to,
    subject: m.subject ?? 'Lettre de la Ruche',
    text: 'Bonjour, voici les nouvelles du mois.',
    html: '<p>Bonjour, voici les nouvelles du mois.</p>',
    headers: {
      'X-Listmonk-Campaign': m.campaign,
      'X-Listmonk-Subscriber': m.subscriber,
      ...(m.noUnsubscribe ? {} : { 'List-Unsubscribe': `<${unsub}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' }),
    },
  };
}

const originalHeaders = (o: { from: string; to: string; campaign?: string; subscriber?: string }) =>
  [
    `From: ${o.from}`,
    `To: ${o.to}`,
    'Subject: Lettre de la Ruche',
    `Message-ID: <${randomBytes(6).toString('hex')}@laruche.example>`,
    ...(o.campaign ? [`X-Listmonk-Campaign: ${o.campaign}`] : []),
    ...(o.subscriber ? [`X-Listmonk-Subscriber: ${o.subscriber}`] : []),
  ].join('\r\n');

/** A multipart/report message: a human part, the machine-readable report, the original message (part). */
function multipartReport(o: {
  prefix: string; from: string; host: string; to: string; subject: string; reportType: string;
  human: string; reportPart: string; report: string[]; originalPart: string; original: string[];
}): string {
  const b = `${o.prefix}-${randomBytes(6).toString('hex')}`;
  return [
    `From: ${o.from}`,
    `To: <${o.to}>`,
    `Subject: ${o.subject}`,
    `Message-ID: <${b}@${o.host}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=${o.reportType}; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    o.human,
    '',
    `--${b}`,
    `Content-Type: ${o.reportPart}`,
    '',
    ...o.report,
    '',
    `--${b}`,
    `Content-Type: ${o.originalPart}`,
    '',
    ...o.original,
    '',
    `--${b}--`,
    '',
  ].join('\r\n');
}

/** An RFC 3464 DSN as a remote MTA sends it (late bounce after its own queueing). */
export function dsnMessage(o: { to: string; recipient: string; action: 'failed' | 'delayed'; status: string; diagnostic: string; original: { from: string; campaign?: string; subscriber?: string } }): string {
  return multipartReport({
    prefix: 'dsn', from: 'Mail Delivery System <MAILER-DAEMON@mx.remote.example>', host: 'mx.remote.example', to: o.to,
    subject: 'Undelivered Mail Returned to Sender', reportType: 'delivery-status', human: 'Your message could not be delivered.',
    reportPart: 'message/delivery-status',
    report: [
      'Reporting-MTA: dns; mx.remote.example',
      '',
      `Final-Recipient: rfc822; ${o.recipient}`,
      `Original-Recipient: rfc822; ${o.recipient}`,
      `Action: ${o.action}`,
      `Status: ${o.status}`,
      'Remote-MTA: dns; mailstore.remote.example',
      `Diagnostic-Code: smtp; ${o.diagnostic}`,
    ],
    originalPart: 'text/rfc822-headers',
    original: [originalHeaders({ ...o.original, to: o.recipient })],
  });
}

/** An RFC 5965 abuse report (feedback loop). */
export function arfMessage(o: { to: string; recipient: string; original: { from: string; campaign?: string; subscriber?: string } }): string {
  return multipartReport({
    prefix: 'arf', from: 'Feedback Loop <fbl@isp.remote.example>', host: 'isp.remote.example', to: o.to,
    subject: 'Abuse report', reportType: 'feedback-report', human: 'This is an email abuse report.',
    reportPart: 'message/feedback-report',
    report: [
      'Feedback-Type: abuse',
      'User-Agent: RemoteFBL/1.0',
      'Version: 1',
      `Original-Rcpt-To: <${o.recipient}>`,
      'Source-IP: 192.0.2.25',
      'Reporting-MTA: dns; isp.remote.example',
    ],
    originalPart: 'message/rfc822',
    original: [originalHeaders({ ...o.original, to: o.recipient }), '', 'Bonjour, voici les nouvelles du mois.'],
  });
}

/** A TCP proxy to Redis, so a test can take the store away from the relay and give it back. */
export async function redisProxy(): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(6379, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  };
  const cut = async () => {
    await new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sockets) s.destroy();
    });
  };
  await listen();
  return { port, cut, restore: listen, close: async () => (server.listening ? cut() : undefined) };
}

export async function waitUntil<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000, stepMs = 25): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
