/**
 * Redis outages, with a redis-server of our own on a random port: mail is tempfailed (451 4.3.0)
 * while Redis is away, nothing is accepted uncounted, and mail flows again when it is back.
 * A relay started while Redis is down starts anyway and tempfails until Redis appears.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../delivery/helpers.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { line, passwordHash, sendOne, spoolEnvelopes, startPolicyRelay, waitUntil } from './helpers.js';

interface RedisServer {
  port: number;
  stop(): Promise<void>;
}

async function startRedis(port: number): Promise<RedisServer> {
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitUntil(() => /Ready to accept connections/.test(out) || child.exitCode !== null, 'redis-server start', 10_000);
  if (child.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

const yaml = (hash: string) => `
hostname: relais.test
tenants:
  - id: ruche
    domains: [a.example]
    mailboxes:
      "q@a.example": { limits: { messages_per_hour: 3 } }
clients:
  - name: mailcow
    password_hash: "${hash}"
    tenants: [ruche]
`;

const STORE_DOWN = /^451 4\.3\.0 Service temporairement indisponible, réessayez plus tard \/ Service temporarily unavailable, try again later$/;

describe('Redis outages', () => {
  let hash: string;
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    hash = await passwordHash();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  const start = async (port: number): Promise<RelayProcess> => {
    const relay = await startPolicyRelay({ store: 'embedded', yaml: yaml(hash), env: { RELAIS_REDIS_URL: `redis://127.0.0.1:${port}`, RELAIS_STORE_PREFIX: 'relais-down:' } });
    cleanups.push(() => relay.stop());
    return relay;
  };
  const send = (relay: RelayProcess, from = 'x@a.example') => sendOne(relay.smtpPort, 'mailcow', { from, to: ['y@dest.example'] });

  it('tempfails while Redis is away, accepts again when it is back', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    cleanups.push(() => redis.stop());
    const relay = await start(port);
    expect(line((await send(relay)).data)).toMatch(/^250 /);
    expect(line((await send(relay, 'q@a.example')).data)).toMatch(/^250 /);

    await redis.stop();
    for (let i = 0; i < 3; i++) {
      const r = await send(relay);
      expect(r.mail.code).toBe(250); // the tenant directory keeps serving its last snapshot
      expect(line(r.data)).toMatch(STORE_DOWN);
    }
    expect(spoolEnvelopes(relay.dataDir)).toHaveLength(2);

    redis = await startRedis(port);
    // The client reconnects on its own (retry every <= 2 s).
    let r = await send(relay);
    const deadline = Date.now() + 15_000;
    while (r.data?.code !== 250 && Date.now() < deadline) {
      expect(line(r.data)).toMatch(STORE_DOWN);
      await new Promise((res) => setTimeout(res, 200));
      r = await send(relay);
    }
    expect(line(r.data)).toMatch(/^250 /);
    // Quotas apply again (this Redis starts empty: 3 more fit, the 4th does not).
    for (let i = 0; i < 3; i++) expect((await send(relay, 'q@a.example')).data?.code).toBe(250);
    expect(line((await send(relay, 'q@a.example')).data)).toMatch(/^451 4\.7\.1 Quota dépassé/);
    expect(spoolEnvelopes(relay.dataDir)).toHaveLength(6);
  });

  it('starts while Redis is down, tempfails, then accepts once Redis is up', async () => {
    const port = await freePort();
    const relay = await start(port);
    expect(relay.events().some((e) => e.msg === 'relais started' && e.store === 'redis')).toBe(true);
    const r = await send(relay);
    expect(line(r.data)).toMatch(STORE_DOWN);
    expect(spoolEnvelopes(relay.dataDir)).toHaveLength(0);

    const redis = await startRedis(port);
    cleanups.push(() => redis.stop());
    await waitUntil(async () => (await send(relay)).data?.code === 250, 'mail accepted after Redis came up', 20_000);
    expect(spoolEnvelopes(relay.dataDir)).toHaveLength(1);
  });
});
