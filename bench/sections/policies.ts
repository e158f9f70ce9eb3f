/**
 * Accept throughput with policies on vs off (issue 5; target: on ≥ 90 % of off). "Off" is the
 * default relay: the implicit loopback client is trusted, so no sender check, quota or bulk
 * signal runs. "On" declares a tenant `bench` (bench.example) and an untrusted client `bench`
 * (127.0.0.1/32): every message goes through sender authorisation, the bulk signals (split
 * transactions, distinct recipients, body fingerprint), the compromised-account guard and the
 * quota consume at three levels — with the embedded LMDB store and with Redis, the guard on
 * (thresholds out of reach, so its reads and writes run) and off (policies.guard.enabled: false).
 * Limits and thresholds are set out of reach so nothing is refused or held (checked from the
 * verdicts the relay logs). Same load for all: 2 KiB, 20 sessions, reused connections, unique
 * Message-IDs, 5 rotating recipients; delivery goes to a silent smarthost (tarpit), so this is
 * intake + spool (fsync) only. Runs are interleaved in rounds (the disk and the machine drift by
 * more than the effect measured): "vs off" is the median over rounds of each round's ratio to
 * that round's policies-off run, with its range. BENCH_POLICY_ROUNDS sets the rounds (default 6).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { section } from '../lib/registry.js';
import { procCpuMs, startBenchRelay, type BenchRelay } from '../lib/relay.js';
import { makeMessages, percentile, runLoad, type LoadResult } from '../lib/smtp-load.js';
import { startTarpit } from '../lib/tarpit.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = Math.max(1, Number(process.env.BENCH_POLICY_ROUNDS ?? 6));
const RUN_MS = 1500;
/**
 * Warm-up per configuration before the rounds. V8 is still optimising the relay's code for ~6 s
 * of load (TurboFan compiles on a helper thread, counted in the relay's CPU); the policies-on
 * path has more code, so a short warm-up charges its compiling to the measured rounds.
 */
const WARM_MS = Number(process.env.BENCH_POLICY_WARM_MS ?? 8000);
const BIG = 1_000_000_000;

const config = (guard: boolean) => `# Bench: policies on, nothing refused or held.
policies:
  defaults:
    limits:
      mailbox: { messages_per_hour: ${BIG}, recipients_per_day: ${BIG} }
      domain: { messages_per_hour: ${BIG} }
      tenant: { messages_per_day: ${BIG} }
    bulk:
      recipients_per_message: 1000
      distinct_recipients_per_day: ${BIG}
      fingerprint_recipients: ${BIG}
  guard:
    enabled: ${guard}
    volume_factor: ${BIG}
    min_hourly: ${BIG}
    new_domains_per_hour: ${BIG}
tenants:
  - id: bench
    domains: [bench.example]
    limits:
      mailbox: { messages_per_hour: 10000000, recipients_per_day: 10000000 }
      domain: { messages_per_hour: 10000000 }
      tenant: { messages_per_day: 100000000 }
clients:
  - name: bench
    networks: [127.0.0.1/32]
    tenants: [bench]
`;

function redisReachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port || 6379), u.hostname);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d: Buffer) => done(d.toString().startsWith('+PONG')));
  });
}

/** Deletes the bench's keys (a unique prefix) from Redis. */
async function dropPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

interface Config {
  name: string;
  relay: BenchRelay;
  runs: LoadResult[];
  cpuMs: number;
  /** CPU of the Redis server during this configuration's runs (when it runs on this machine). */
  redisCpuMs: number;
}

/** The Redis server's pid when it runs on this machine (its CPU is read from /proc), else undefined. */
async function localRedisPid(url: string): Promise<number | undefined> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const pid = Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]);
    procCpuMs(pid);
    return pid;
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

section('policies', async (ctx) => {
  const tarpit = await startTarpit();
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-policies-'));
  const files = { on: join(dir, 'guard-on.yaml'), off: join(dir, 'guard-off.yaml') };
  writeFileSync(files.on, config(true));
  writeFileSync(files.off, config(false));
  const prefix = `bench-${randomBytes(6).toString('hex')}:`;
  const useRedis = await redisReachable(REDIS_URL);
  const configs: Config[] = [];
  const base = { RELAIS_SMARTHOST: `127.0.0.1:${tarpit.port}`, RELAIS_ALLOW_PRIVATE_MX: 'true' };
  try {
    const add = async (name: string, env: Record<string, string>, configFile?: string) =>
      configs.push({ name, relay: await startBenchRelay({ ...base, ...env }, { configFile }), runs: [], cpuMs: 0, redisCpuMs: 0 });
    await add('policies off (trusted loopback)', {});
    await add('on · embedded · guard off', {}, files.off);
    await add('on · embedded · guard on', {}, files.on);
    if (useRedis) {
      const redis = { RELAIS_REDIS_URL: REDIS_URL };
      await add('on · Redis · guard off', { ...redis, RELAIS_STORE_PREFIX: `${prefix}g0:` }, files.off);
      await add('on · Redis · guard on', { ...redis, RELAIS_STORE_PREFIX: `${prefix}g1:` }, files.on);
    } else ctx.note(`Redis not reachable at ${REDIS_URL} (BENCH_REDIS_URL): Redis rows skipped`);

    const redisPid = useRedis ? await localRedisPid(REDIS_URL) : undefined;
    const redisCpu = (): number => (redisPid === undefined ? 0 : procCpuMs(redisPid));
    const message = makeMessages(2048, 'policies', { from: 'bench@bench.example' });
    const load = (port: number, maxMs: number) =>
      runLoad({ port, sessions: 20, maxMessages: 1_000_000, maxMs, message, mailFrom: 'bench@bench.example', recipientFor: (seq) => `rcpt${seq % 5}@example.org` });
    // Warm-up (JIT, store files, Redis connections); not recorded.
    for (const c of configs) await load(c.relay.smtpPort, WARM_MS);
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate who goes first each round.
      for (let k = 0; k < configs.length; k++) {
        const c = configs[(k + round) % configs.length]!;
        const cpu0 = procCpuMs(c.relay.pid);
        const redis0 = redisCpu();
        c.runs.push(await load(c.relay.smtpPort, RUN_MS));
        c.cpuMs += procCpuMs(c.relay.pid) - cpu0;
        c.redisCpuMs += redisCpu() - redis0;
      }
    }

    const rate = (c: Config) => c.runs.reduce((a, r) => a + r.messages, 0) / c.runs.reduce((a, r) => a + r.seconds, 0);
    const off = configs[0]!;
    const offCpu = off.cpuMs / off.runs.reduce((a, r) => a + r.messages, 0);
    /** Per-round ratios to the same round's policies-off run, sorted. */
    const ratios = (c: Config) => c.runs.map((r, i) => r.perSecond / off.runs[i]!.perSecond - 1).sort((a, b) => a - b);
    const median = (xs: number[]) => (xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2);
    for (const c of configs) {
      const n = c.runs.reduce((a, r) => a + r.messages, 0);
      const lat = c.runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
      const errors = c.runs.flatMap((r) => r.errors);
      const cpu = c.cpuMs / Math.max(1, n);
      const v = c.relay.verdicts();
      const notAccepted = Object.entries(v).filter(([k]) => k !== 'accept').map(([k, x]) => `${k}=${x}`).join(' ');
      ctx.record(c.name, {
        'msg/s': rate(c),
        'vs off % (median)': c === off ? undefined : median(ratios(c)) * 100,
        'vs off % range': c === off ? undefined : `${(ratios(c)[0]! * 100).toFixed(0)}…${(ratios(c).at(-1)! * 100).toFixed(0)}`,
        'p50 ms': percentile(lat, 50),
        'p99 ms': percentile(lat, 99),
        'relay CPU ms/msg': cpu,
        'CPU vs off %': c === off ? undefined : (cpu / offCpu - 1) * 100,
        'Redis CPU µs/msg': redisPid === undefined || !c.name.includes('Redis') ? undefined : (c.redisCpuMs * 1000) / Math.max(1, n),
        'min–max msg/s': c.runs.map((r) => r.perSecond).reduce((a, x) => [Math.min(a[0]!, x), Math.max(a[1]!, x)], [Infinity, 0]).map((x) => x.toFixed(0)).join('–'),
        messages: n,
        errors: errors.length || undefined,
      });
      if (errors.length) ctx.note(`${c.name}: errors ${errors.slice(0, 3).join('; ')}`);
      if (notAccepted) ctx.note(`${c.name}: verdicts other than accept: ${notAccepted} — the comparison is not like for like`);
    }
    ctx.note(`${ROUNDS} interleaved rounds of ${RUN_MS / 1000} s per configuration (BENCH_POLICY_ROUNDS); "vs off" = median and range of the per-round ratios to that round's policies-off run; all limits out of reach; "guard on" = compromised-account guard enabled with unreachable thresholds (its store reads and writes run, it never holds), "guard off" = policies.guard.enabled: false (no guard counters at all); "Redis CPU" = the Redis server's CPU during those runs, when it runs on this machine (read from /proc)`);
  } finally {
    await Promise.all(configs.map((c) => c.relay.stop()));
    await tarpit.close();
    rmSync(dir, { recursive: true, force: true });
    if (useRedis) await dropPrefix(REDIS_URL, prefix).catch((err: unknown) => ctx.note(`Redis keys ${prefix}* not removed: ${(err as Error).message}`));
  }
});
