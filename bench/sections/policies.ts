/**
 * Accept throughput with policies on vs off (issue 5; target: on ≥ 90 % of off). Each relay
 * serves both modes, so both meet the same spool, disk and JIT: "off" is a trusted client
 * (127.0.0.2, `trusted: true`, like the implicit loopback client: no sender check, quota or bulk
 * signal), "on" is the untrusted client `bench` (127.0.0.1) of tenant `bench` (bench.example):
 * every message goes through sender authorisation, the bulk signals (split transactions, distinct
 * recipients, body fingerprint), the compromised-account guard and the quota consume at three
 * levels. One relay per store (embedded LMDB, Redis) and guard setting: guard on (thresholds out
 * of reach, so its reads and writes run) and off (policies.guard.enabled: false). Limits and
 * thresholds are out of reach, so nothing is refused or held (checked from the verdicts the relay
 * logs). Same load for all: 2 KiB, 20 sessions, reused connections, unique Message-IDs and bodies
 * (person-to-person mail), 5 rotating recipients; delivery goes to a silent smarthost (tarpit),
 * so this is intake + spool (fsync) only.
 *
 * Why one relay for both modes: each relay's spool is a fresh directory, and on ext4 the cost of
 * creating its files (inode allocation skipping recently deleted inodes) differs from one
 * directory to the next by up to 2x in kernel CPU per message, more than the effect measured.
 *
 * Why turns: the machine's speed drifts by ±20 % from one second to the next (disk, neighbours
 * on the host), so separate runs of each mode compare noise. Both modes keep their 20
 * connections open and take turns of 500 ms (runAlternating); each "on" turn is compared with
 * the "off" turns just before and after it, and the median of those ratios is reported, with
 * half the pairs run "on" first (the order costs either side ~1–2 %). An A/A run (two "off"
 * groups) gives medians within ±2 %. BENCH_POLICY_TURNS sets the turns per mode (default 40).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_REDIS_URL, dropPrefix, localRedisPid, redisReachable } from '../lib/redis.js';
import { section } from '../lib/registry.js';
import { procCpuMs, startBenchRelay, type BenchRelay } from '../lib/relay.js';
import { makeMessages, percentile, runAlternating } from '../lib/smtp-load.js';
import { startTarpit } from '../lib/tarpit.js';

const REDIS_URL = BENCH_REDIS_URL;
const TURNS = Math.max(2, Number(process.env.BENCH_POLICY_TURNS ?? 40));
const TURN_MS = 500;
/**
 * Warm-up per configuration before the rounds. V8 is still optimising the relay's code for ~6 s
 * of load (TurboFan compiles on a helper thread, counted in the relay's CPU); the policies-on
 * path has more code, so a short warm-up charges its compiling to the measured rounds.
 */
const WARM_MS = Number(process.env.BENCH_POLICY_WARM_MS ?? 8000);
const BIG = 1_000_000_000;

export const policiesConfig = (guard: boolean) => `# Bench: policies on for 127.0.0.1 (nothing refused or held), off for 127.0.0.2.
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
  - name: bench-off
    networks: [127.0.0.2/32]
    tenants: ["*"]
    trusted: true
`;

type Mode = 'off' | 'on';
const MODES: readonly Mode[] = ['off', 'on'];
const SOURCE: Record<Mode, string> = { off: '127.0.0.2', on: '127.0.0.1' };

interface Config {
  name: string;
  relay: BenchRelay;
}

/** One relay's measured turns, per mode. */
interface Turns {
  /** Per "on" turn: its rate over the mean of the "off" turns either side of it, minus 1; sorted. */
  ratios: number[];
  messages: Record<Mode, number>;
  seconds: Record<Mode, number>;
  /** Relay CPU and Redis server CPU (ms) during each mode's turns. */
  cpuMs: Record<Mode, number>;
  redisCpuMs: Record<Mode, number>;
  /** End-of-DATA latencies of the "on" messages, sorted. */
  latencies: number[];
  errors: string[];
}

section('policies', async (ctx) => {
  const tarpit = await startTarpit();
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-policies-'));
  const files = { on: join(dir, 'guard-on.yaml'), off: join(dir, 'guard-off.yaml') };
  writeFileSync(files.on, policiesConfig(true));
  writeFileSync(files.off, policiesConfig(false));
  const prefix = `bench-${randomBytes(6).toString('hex')}:`;
  const useRedis = await redisReachable(REDIS_URL);
  const configs: Config[] = [];
  const base = { RELAIS_SMARTHOST: `127.0.0.1:${tarpit.port}`, RELAIS_ALLOW_PRIVATE_MX: 'true' };
  try {
    const add = async (name: string, env: Record<string, string>, configFile: string) =>
      configs.push({ name, relay: await startBenchRelay({ ...base, ...env }, { configFile }) });
    await add('embedded · guard off', {}, files.off);
    await add('embedded · guard on', {}, files.on);
    if (useRedis) {
      const redis = { RELAIS_REDIS_URL: REDIS_URL };
      await add('Redis · guard off', { ...redis, RELAIS_STORE_PREFIX: `${prefix}g0:` }, files.off);
      await add('Redis · guard on', { ...redis, RELAIS_STORE_PREFIX: `${prefix}g1:` }, files.on);
    } else ctx.note(`Redis not reachable at ${REDIS_URL} (BENCH_REDIS_URL): Redis rows skipped`);

    const redisPid = useRedis ? await localRedisPid(REDIS_URL) : undefined;
    const redisCpu = (): number => (redisPid === undefined ? 0 : procCpuMs(redisPid));
    const factory = makeMessages(2048, 'policies', { from: 'bench@bench.example', uniqueBodies: true });
    // Messages are numbered section-wide, so Message-IDs and bodies stay unique across runs
    // (repeats would be split parts and copies to the policies).
    let sent = 0;
    const message = () => factory(sent++);
    const alternate = (relay: BenchRelay, order: readonly Mode[], windowMs: number, turns: number) =>
      runAlternating({
        port: relay.smtpPort, groups: order.map((m) => SOURCE[m]), sessions: 20, windowMs, turns, message,
        mailFrom: 'bench@bench.example', recipientFor: (seq) => `rcpt${seq % 5}@example.org`,
        meter: () => [procCpuMs(relay.pid), redisCpu()],
      });
    const measure = async (relay: BenchRelay): Promise<Turns> => {
      const t: Turns = { ratios: [], messages: { off: 0, on: 0 }, seconds: { off: 0, on: 0 }, cpuMs: { off: 0, on: 0 }, redisCpuMs: { off: 0, on: 0 }, latencies: [], errors: [] };
      // Half the turns with "off" first in each pair, half with "on" first.
      for (const order of [MODES, [...MODES].reverse()]) {
        const r = await alternate(relay, order, TURN_MS, Math.ceil(TURNS / 2));
        t.errors.push(...r.errors);
        const rates = order.map((_, g) => r.counts[g]!.map((n, i) => n / r.seconds[g]![i]!));
        order.forEach((m, g) => {
          t.messages[m] += r.counts[g]!.reduce((a, b) => a + b, 0);
          t.seconds[m] += r.seconds[g]!.reduce((a, b) => a + b, 0);
          t.cpuMs[m] += r.metered[g]![0] ?? 0;
          t.redisCpuMs[m] += r.metered[g]![1] ?? 0;
        });
        t.latencies.push(...r.latencies[order.indexOf('on')]!);
        const on = rates[order.indexOf('on')]!;
        const off = rates[order.indexOf('off')]!;
        // The "off" turns just before and after each "on" turn (one at the ends of the run).
        const before = order[0] === 'off' ? 0 : -1;
        on.forEach((rate, i) => {
          const around = [off[i + before], off[i + before + 1]].filter((x): x is number => x !== undefined);
          t.ratios.push(rate / (around.reduce((a, b) => a + b, 0) / around.length) - 1);
        });
      }
      t.ratios.sort((a, b) => a - b);
      t.latencies.sort((a, b) => a - b);
      return t;
    };

    const median = (xs: number[]) => (xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2);
    const pct = (x: number) => (x * 100).toFixed(0);
    for (const c of configs) {
      // Warm-up (JIT, store files, Redis connections), both modes; not recorded.
      await alternate(c.relay, MODES, 1000, Math.ceil(WARM_MS / 2000));
      const t = await measure(c.relay);
      const rate = (m: Mode) => t.messages[m] / Math.max(1e-9, t.seconds[m]);
      const cpu = (m: Mode) => t.cpuMs[m] / Math.max(1, t.messages[m]);
      const q = (p: number) => t.ratios[Math.min(t.ratios.length - 1, Math.floor(p * t.ratios.length))]!;
      const v = c.relay.verdicts();
      const notAccepted = Object.entries(v).filter(([k]) => k !== 'accept').map(([k, x]) => `${k}=${x}`).join(' ');
      ctx.record(c.name, {
        'off msg/s': rate('off'),
        'on msg/s': rate('on'),
        'vs off % (median)': median(t.ratios) * 100,
        'vs off % p10…p90': `${pct(q(0.1))}…${pct(q(0.9))}`,
        'on p50 ms': percentile(t.latencies, 50),
        'on p99 ms': percentile(t.latencies, 99),
        'relay CPU ms/msg off': cpu('off'),
        'relay CPU ms/msg on': cpu('on'),
        'CPU vs off %': (cpu('on') / cpu('off') - 1) * 100,
        'Redis CPU µs/msg on': redisPid === undefined || !c.name.startsWith('Redis') ? undefined : (t.redisCpuMs.on * 1000) / Math.max(1, t.messages.on),
        'messages on': t.messages.on,
        errors: t.errors.length || undefined,
      });
      if (t.errors.length) ctx.note(`${c.name}: errors ${t.errors.slice(0, 3).join('; ')}`);
      if (notAccepted) ctx.note(`${c.name}: verdicts other than accept: ${notAccepted} — the comparison is not like for like`);
    }
    ctx.note(`per relay: ${WARM_MS / 1000} s warm-up, then ${TURNS} turns of ${TURN_MS} ms per mode taking turns on connections kept open (BENCH_POLICY_TURNS); off = the trusted client 127.0.0.2, on = the tenant client 127.0.0.1, on the same relay; "vs off" = each "on" turn's rate over the mean of the "off" turns just before and after it: median and p10…p90 of those ratios (in half the pairs "on" goes first); all limits out of reach; "guard on" = compromised-account guard enabled with unreachable thresholds (its store reads and writes run, it never holds), "guard off" = policies.guard.enabled: false (no guard counters at all); "Redis CPU" = the Redis server's CPU during the "on" turns, when it runs on this machine (read from /proc)`);
  } finally {
    await Promise.all(configs.map((c) => c.relay.stop()));
    await tarpit.close();
    rmSync(dir, { recursive: true, force: true });
    if (useRedis) await dropPrefix(REDIS_URL, prefix).catch((err: unknown) => ctx.note(`Redis keys ${prefix}* not removed: ${(err as Error).message}`));
  }
});
