/**
 * Starts the built relay (dist/src/cli.js) as a child process with embedded defaults and a temp
 * data dir (fsync on, as in production), reads its ports from the "relais started" log line, and
 * reads its memory from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLI = resolve(import.meta.dirname, '../../src/cli.js');

/** Children still running when the bench exits (error, Ctrl-C) are killed with it. */
const live = new Set<ChildProcess>();
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}
process.once('exit', () => live.forEach((c) => c.kill('SIGKILL')));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

export interface BenchRelay {
  child: ChildProcess;
  pid: number;
  dataDir: string;
  smtpPort: number;
  /** Port of the admin API (/api/v1, /metrics). */
  apiPort: number;
  logLines(): number;
  /** Verdicts logged at end of DATA ("verdict" field of the intake's log lines), by action. */
  verdicts(): Record<string, number>;
  stop(): Promise<void>;
}

export interface BenchRelayOptions {
  /** YAML config passed as `--config FILE` (RELAIS_* env still wins over it). */
  configFile?: string;
  /**
   * A data directory to (re)use, kept at stop: two relays run one after the other on the same
   * directory compare the same spool directories (a fresh one can cost the kernel up to 2× more
   * per message, ext4's inode allocation).
   */
  dataDir?: string;
  /** A command the relay runs under (e.g. valgrind and its options): `[cmd, ...args]`, then node. */
  wrapper?: string[];
  /** How long the relay may take to start (default 20 s; much longer under valgrind). */
  startTimeoutMs?: number;
}

export async function startBenchRelay(env: Record<string, string> = {}, opts: BenchRelayOptions = {}): Promise<BenchRelay> {
  const root = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'relais-bench-'));
  const dataDir = opts.dataDir ?? join(root, 'data');
  const removeRoot = () => {
    if (!opts.dataDir) rmSync(root, { recursive: true, force: true });
  };
  // BENCH_RELAY_NODE_ARGS: Node options for the relay alone (profiling: "--cpu-prof --cpu-prof-dir=DIR").
  const nodeArgs = (process.env.BENCH_RELAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const [cmd, ...pre] = opts.wrapper?.length ? [...opts.wrapper, process.execPath] : [process.execPath];
  const child = spawn(cmd!, [...pre, ...nodeArgs, CLI, 'start', ...(opts.configFile ? ['--config', opts.configFile] : [])], {
    env: {
      ...(process.env as Record<string, string>),
      RELAIS_DATA_DIR: dataDir,
      RELAIS_SMTP_LISTEN: '127.0.0.1:0',
      RELAIS_API_LISTEN: '127.0.0.1:0',
      RELAIS_HOSTNAME: 'relais.bench',
      RELAIS_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let lines = 0;
  let text = '';
  let up = false;
  let partial = '';
  const verdicts: Record<string, number> = {};
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const startedP = new Promise<Record<string, unknown>>((resolveStart, reject) => {
    const startMs = opts.startTimeoutMs ?? 20_000;
    const timer = setTimeout(() => reject(new Error(`relay did not start within ${startMs / 1000} s:\n${text.slice(-4000)}`)), startMs);
    const onData = (d: Buffer) => {
      const s = d.toString('utf8');
      for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) lines++;
      const all = partial + s;
      const cut = all.lastIndexOf('\n') + 1;
      partial = all.slice(cut);
      for (const m of all.slice(0, cut).matchAll(/"verdict":"([a-z_]+)"/g)) verdicts[m[1]!] = (verdicts[m[1]!] ?? 0) + 1;
      if (up) return;
      text += s;
      const complete = text.split('\n').slice(0, -1);
      const l = complete.find((x) => x.includes('"relais started"'));
      if (!l) return;
      up = true;
      clearTimeout(timer);
      resolveStart(JSON.parse(l) as Record<string, unknown>);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      if (up) return;
      clearTimeout(timer);
      reject(new Error(`relay exited (${code}) at start:\n${text.slice(-4000)}`));
    });
  });
  let started: Record<string, unknown>;
  try {
    started = await startedP;
  } catch (err) {
    child.kill('SIGKILL');
    removeRoot();
    throw err;
  }
  return {
    child,
    pid: child.pid!,
    dataDir,
    smtpPort: (started.smtp as Array<{ port: number }>)[0]!.port,
    apiPort: (started.api as { port: number }).port,
    logLines: () => lines,
    verdicts: () => ({ ...verdicts }),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        // A bench does not need a graceful drain: give it 3 s, then kill (keeps the run short).
        const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(t);
      }
      removeRoot();
    },
  };
}

/** A field of /proc/<pid>/status in KiB (VmRSS, VmHWM...). */
export function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** User + system CPU time of a process in ms (/proc/<pid>/stat, clock ticks at 100 Hz). */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU time (ms) of the relay's threads by role: the main thread (intake, policies, API), the
 * delivery thread (the one at nice 10) and the others (libuv's pool: fsync, RSA; V8's helpers).
 */
export function threadCpuMs(pid: number): { main: number; delivery: number; others: number } {
  const out = { main: 0, delivery: 0, others: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * 10;
    if (Number(tid) === pid) out.main += ms;
    else if (Number(f[16]) === 10) out.delivery += ms;
    else out.others += ms;
  }
  return out;
}

/** Makes an active RSA-2048 DKIM key for `domain` through the admin API; returns its DNS TXT value. */
export async function createDkimKey(relay: BenchRelay, token: string, domain: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${relay.apiPort}/api/v1/dkim/${domain}/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ algo: 'rsa' }),
  });
  const made = (await res.json()) as { key?: { selector: string; status: string }; dns?: { value: string } };
  if (res.status !== 201 || !made.key) throw new Error(`DKIM key generation failed: ${res.status} ${JSON.stringify(made)}`);
  // A data dir used before (same master key) has a key already: the new one is staged, then
  // made the active one (the old one is retired).
  if (made.key.status === 'staged') {
    const act = await fetch(`http://127.0.0.1:${relay.apiPort}/api/v1/dkim/${domain}/keys/${made.key.selector}/activate`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    if (act.status !== 200) throw new Error(`DKIM key activation failed: ${act.status} ${await act.text()}`);
  } else if (made.key.status !== 'active') throw new Error(`DKIM key generation failed: ${JSON.stringify(made)}`);
  return made.dns!.value;
}

/** Busy and total jiffies of the whole machine (/proc/stat): busy = all but idle and iowait. */
export function machineJiffies(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}
