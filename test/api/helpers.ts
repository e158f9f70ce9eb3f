/**
 * The admin API tests drive a real relay process (dist/src/cli.js) over HTTP and SMTP, with a
 * real Redis (unique key prefix). Outbound mail goes to a smarthost nobody listens on, so it
 * stays deferred in the queue (first retry in an hour) for the queue routes to act on.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { transport } from '../helpers/mail.js';
import { startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { dropRedisPrefix } from '../store/redis-cleanup.js';

export { api, until } from '../e2e-stats/world.js';

export const ADMIN_TOKEN = 'relais-test-admin-0123456789abcdef';

export const BASE_YAML = `hostname: relais.test
tenants:
  - id: collectif-a
    name: Collectif A
    domains: [collectif-a.org]
  - id: amap-b
    name: AMAP B
    domains: [amap-b.fr]
clients:
  - name: mailcow
    networks: [127.0.0.1/32]
    tenants: [collectif-a, amap-b]
`;

export interface ApiRelay {
  relay: RelayProcess;
  base: string;
  prefix: string;
  dataDir: string;
  configFile: string;
  /** Log lines of every process started so far (restarts included). */
  allLogs(): string[];
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startApiRelay(opts: { yaml?: string; env?: Record<string, string>; redis?: boolean } = {}): Promise<ApiRelay> {
  const dir = tempDir('relais-api-');
  const configFile = writeYaml(dir, opts.yaml ?? BASE_YAML);
  const prefix = `test-api-${randomUUID()}:`;
  const dataDir = `${dir}/data`;
  const env: Record<string, string> = {
    RELAIS_SMARTHOST: '127.0.0.1:9',
    RELAIS_QUEUE_RETRY_FIRST: '1h',
    RELAIS_QUEUE_RETRY_MAX: '2h',
    ...(opts.redis === false ? {} : { RELAIS_REDIS_URL: 'redis://127.0.0.1:6379', RELAIS_STORE_PREFIX: prefix }),
    ...opts.env,
  };
  const previous: string[] = [];
  const self: ApiRelay = {
    relay: await startRelay({ configFile, dataDir, env }),
    base: '',
    prefix,
    dataDir,
    configFile,
    allLogs: () => [...previous, ...self.relay.logs],
    async restart() {
      await self.relay.stop();
      previous.push(...self.relay.logs);
      self.relay = await startRelay({ configFile, dataDir, env });
      self.base = `http://127.0.0.1:${self.relay.apiPort}`;
    },
    async stop() {
      await self.relay.stop();
      if (opts.redis !== false) await dropRedisPrefix([prefix]);
    },
  };
  self.base = `http://127.0.0.1:${self.relay.apiPort}`;
  return self;
}

/** The reply to MAIL FROM in a fresh session (EHLO first). */
export async function mailFromReply(port: number, from: string): Promise<{ code: number; text: string }> {
  const c = await RawSmtp.connect(port);
  try {
    expect((await c.reply()).code).toBe(220);
    expect((await c.command('EHLO client.test')).code).toBe(250);
    return await c.command(`MAIL FROM:<${from}>`);
  } finally {
    c.close();
  }
}

/** Sends one message through the relay; resolves with the final reply or the SMTP error. */
export async function sendMail(port: number, from: string, to: string, opts: { auth?: { user: string; pass: string }; subject?: string } = {}): Promise<{ code: number; response: string; queueId?: string }> {
  try {
    const info = await transport(port, { auth: opts.auth, requireTLS: Boolean(opts.auth) }).sendMail({ from, to, subject: opts.subject ?? 'Essai', text: 'Bonjour.\n' });
    return { code: Number(info.response.slice(0, 3)), response: info.response, queueId: /queued as (\S+)/.exec(info.response)?.[1] };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { code: e.responseCode ?? 0, response: e.response ?? e.message };
  }
}
