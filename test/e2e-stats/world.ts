/**
 * A small Internet for the stats tests: a real DNS server whose recipient domains have MX records
 * named like the big providers' (aspmx.l.google.com, *.mail.protection.outlook.com,
 * smtp-in.orange.fr), resolved to 127.0.0.x where real SMTP servers (smtp-server, STARTTLS on:
 * the providers require TLS) answer provider-like replies chosen by the recipient's local part:
 *   rate-*@   Gmail 421-4.7.28 "unusual rate of unsolicited mail" at DATA, first attempt only
 *   spam-*@   Gmail 550-5.7.1 "likely unsolicited mail" at DATA
 *   block-*@  Microsoft 550 5.7.1 "... block list (S3150)" at RCPT
 *   busy-*@   Orange 421 "... OFR_999 [999]" at RCPT, first attempt only
 *   stuck-*@  451 4.7.650 rate limited due to IP reputation at RCPT, until `release(addr)`
 *   anything else: 250.
 * Relays started with `world.env()` deliver there (RELAIS_DNS_SERVERS, RELAIS_ALLOW_PRIVATE_MX,
 * RELAIS_MX_PORT). Sender domains have MX records too, so DSNs are delivered (to "other").
 * Nodes use the bundled providers.yaml with probes every second instead of every minute: the
 * refusals suspend providers as in production, and the mail queued behind them is still
 * attempted within the tests' time, so every message has its outcome in the stats.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { bundledConfigPath } from '../../config/paths.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { SMTPServer } from 'smtp-server';
import { freePort } from '../delivery/helpers.js';
import { transport } from '../helpers/mail.js';
import { startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { dropRedisPrefix } from '../store/redis-cleanup.js';
import { BASE_YAML } from '../api/helpers.js';

export const DOMAINS = { google: 'gmail.test', microsoft: 'outlook.test', orange: 'orange.test', other: 'autre.test' } as const;

export const REPLIES = {
  gmailRate:
    '421 4.7.28 Gmail has detected an unusual rate of unsolicited mail originating\n4.7.28 from your IP address. To protect our users from spam, mail sent from your IP\n4.7.28 address has been temporarily rate limited. For more information, go to\n4.7.28 https://support.google.com/mail/?p=UnsolicitedRateLimitError to review\n4.7.28 our Bulk Email Senders Guidelines. ffacd0b85a97d-3a4e5 - gsmtp',
  gmailSpam:
    "550 5.7.1 Our system has detected that this message is likely unsolicited\n5.7.1 mail. To reduce the amount of spam sent to Gmail, this message has been\n5.7.1 blocked. For more information, go to\n5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError a640c23a62f3a-ab7 - gsmtp",
  microsoftBlock:
    "550 5.7.1 Unfortunately, messages from [127.0.0.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [AM4PEPF00027A5E.eurprd04.prod.outlook.com 2025-11-20T10:11:12.000Z 08DE2A]",
  orangeBusy: '421 mwinf5c79 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 [999]',
  stuck: '451 4.7.650 The mail server [127.0.0.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775)',
} as const;

const MX_HOSTS: Record<string, { name: string; ip: string }> = {
  [DOMAINS.google]: { name: 'aspmx.l.google.com', ip: '127.0.0.2' },
  [DOMAINS.microsoft]: { name: 'outlook-test.mail.protection.outlook.com', ip: '127.0.0.3' },
  [DOMAINS.orange]: { name: 'smtp-in.orange.fr', ip: '127.0.0.4' },
  [DOMAINS.other]: { name: 'mx.autre.test', ip: '127.0.0.5' },
};

export const SENDER_DOMAINS = ['collectif-a.org', 'amap-b.fr'];

/** The relays' configuration: two tenants, the local Mailcow allowed by network for both. */
export const WORLD_YAML = `${BASE_YAML}alerts:
  interval: 1s
`;

type Phase = 'rcpt' | 'data';
interface Script {
  phase: Phase;
  reply: string;
  /** Serve the failure this many times, then 250. Undefined: always (until released). */
  times?: number;
}

function scriptFor(address: string): Script | null {
  const local = address.slice(0, address.lastIndexOf('@'));
  if (local.startsWith('rate-')) return { phase: 'data', reply: REPLIES.gmailRate, times: 1 };
  if (local.startsWith('spam-')) return { phase: 'data', reply: REPLIES.gmailSpam };
  if (local.startsWith('block-')) return { phase: 'rcpt', reply: REPLIES.microsoftBlock };
  if (local.startsWith('busy-')) return { phase: 'rcpt', reply: REPLIES.orangeBusy, times: 1 };
  if (local.startsWith('stuck-')) return { phase: 'rcpt', reply: REPLIES.stuck };
  return null;
}

export interface Received {
  /** MX host name that received it (aspmx.l.google.com...). */
  mx: string;
  from: string;
  to: string[];
  raw: string;
  secure: boolean;
}

/**
 * Reply text "421 4.7.28 line one\n4.7.28 line two" → an smtp-server error. smtp-server sends an
 * array message as a multi-line reply ("421-4.7.28 line one" / "421 4.7.28 line two").
 */
function smtpError(reply: string): Error {
  const lines = reply.slice(4).split('\n');
  const err = Object.assign(new Error(lines[0]), { responseCode: Number(reply.slice(0, 3)) });
  if (lines.length > 1) (err as unknown as { message: string[] }).message = lines;
  return err;
}

async function startProviderMx(name: string, ip: string, port: number, fail: (address: string, phase: Phase) => string | undefined, received: Received[]): Promise<SMTPServer> {
  // STARTTLS on (smtp-server's built-in self-signed certificate): providers.yaml requires TLS.
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH'],
    hideENHANCEDSTATUSCODES: true,
    logger: false,
    banner: `${name} ESMTP`,
    onRcptTo(address, _session, cb) {
      const r = fail(address.address, 'rcpt');
      cb(r ? smtpError(r) : undefined);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        const r = to.map((a) => fail(a, 'data')).find(Boolean);
        if (r) return cb(smtpError(r));
        received.push({ mx: name, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to, raw: Buffer.concat(chunks).toString('utf8'), secure: session.secure });
        cb(null, '2.0.0 Ok: queued');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () => resolve());
  });
  return server;
}

export interface World {
  dns: TestDnsServer;
  mxPort: number;
  /** Every message received by any MX. */
  received(): Received[];
  /** Failures served per recipient address. */
  failures: Map<string, number>;
  /** A stuck-* recipient is accepted from now on. */
  release(address: string): void;
  /** RELAIS_* variables to deliver into this world. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const mxPort = await freePort();
  const failures = new Map<string, number>();
  const released = new Set<string>();
  const zones: Parameters<typeof startDnsServer>[0] = {};
  for (const [domain, mx] of Object.entries(MX_HOSTS)) {
    zones[domain] = { MX: [{ exchange: mx.name, priority: 10 }] };
    zones[mx.name] = { A: [mx.ip] };
  }
  for (const d of SENDER_DOMAINS) zones[d] = { MX: [{ exchange: MX_HOSTS[DOMAINS.other]!.name, priority: 10 }] };
  const dns = await startDnsServer(zones);

  const fail = (address: string, phase: Phase): string | undefined => {
    const a = address.toLowerCase();
    const s = scriptFor(a);
    if (!s || s.phase !== phase || released.has(a)) return undefined;
    const n = failures.get(a) ?? 0;
    if (s.times !== undefined && n >= s.times) return undefined;
    failures.set(a, n + 1);
    return s.reply;
  };

  const received: Received[] = [];
  const mxs = await Promise.all(Object.values(MX_HOSTS).map(({ name, ip }) => startProviderMx(name, ip, mxPort, fail, received)));
  return {
    dns,
    mxPort,
    received: () => received,
    failures,
    release: (a) => released.add(a.toLowerCase()),
    env: () => ({ RELAIS_DNS_SERVERS: dns.server, RELAIS_ALLOW_PRIVATE_MX: '1', RELAIS_MX_PORT: String(mxPort), RELAIS_HOSTNAME: 'relais.test' }),
    async close() {
      await Promise.all([...mxs.map((m) => new Promise<void>((r) => m.close(() => r()))), dns.close()]);
    },
  };
}

export interface StatsNode {
  relay: RelayProcess;
  base: string;
  send(from: string, to: string, subject?: string): Promise<string>;
}

/** Starts a relay of the world on a shared Redis prefix (a fresh data dir each). */
export async function startNode(world: World, opts: { prefix: string; adminToken: string; yaml?: string; env?: Record<string, string> }): Promise<StatsNode> {
  const dir = tempDir('relais-stats-');
  const providers = parseYaml(readFileSync(bundledConfigPath('providers.yaml'), 'utf8')) as { automation: Record<string, unknown> };
  providers.automation.probe_interval = '1s';
  const providersFile = join(dir, 'providers.yaml');
  writeFileSync(providersFile, toYaml(providers));
  const relay = await startRelay({
    configFile: writeYaml(dir, `${opts.yaml ?? WORLD_YAML}delivery:\n  providers_file: ${providersFile}\n`),
    env: {
      ...world.env(),
      RELAIS_REDIS_URL: 'redis://127.0.0.1:6379',
      RELAIS_STORE_PREFIX: opts.prefix,
      RELAIS_ADMIN_TOKEN: opts.adminToken,
      RELAIS_QUEUE_RETRY_FIRST: '1s',
      RELAIS_QUEUE_RETRY_MAX: '2s',
      ...opts.env,
    },
  });
  return {
    relay,
    base: `http://127.0.0.1:${relay.apiPort}`,
    async send(from, to, subject = 'Bonjour') {
      const info = await transport(relay.smtpPort).sendMail({ from, to, subject, text: `Bonjour ${to}.\n` });
      return info.response;
    },
  };
}

export const newPrefix = () => `test-stats-${randomUUID()}:`;
export const dropPrefix = (p: string) => dropRedisPrefix([p]);

/** GET/POST… on the admin API with a bearer token; JSON in and out. */
export async function api<T = any>(base: string, token: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: body as T };
}

/** Polls until fn returns a truthy value; the test timeout bounds the wait. */
export async function until<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 45_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
