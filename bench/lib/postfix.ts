/**
 * A private Postfix instance in a temp directory (its own config_directory, queue_directory and
 * data_directory, log file instead of syslog), so tests and benchmarks never touch /etc/postfix or
 * the system Postfix. Needs root (Postfix's master refuses otherwise), the `postfix` user and the
 * `postdrop` group that Debian's postfix package creates. Used by test/postfix and bench.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const POSTFIX_BIN = '/usr/sbin/postfix';
export const SMTP_SOURCE = '/usr/sbin/smtp-source';
export const SMTP_SINK = '/usr/sbin/smtp-sink';

/** Instances still running when the process exits (a crashed bench or test) are stopped with it. */
const running = new Set<string>();
process.once('exit', () => {
  for (const dir of running) {
    try {
      execFileSync(POSTFIX_BIN, ['-c', dir, 'abort'], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // best effort
    }
  }
});

/** Why a private Postfix cannot run here, or undefined when it can. */
export function postfixUnavailable(): string | undefined {
  if (!existsSync(POSTFIX_BIN)) return `${POSTFIX_BIN} missing (Debian package "postfix")`;
  if (process.getuid?.() !== 0) return 'Postfix must be started as root';
  try {
    execFileSync('getent', ['passwd', 'postfix']);
    execFileSync('getent', ['group', 'postdrop']);
  } catch {
    return 'user "postfix" or group "postdrop" missing (created by the postfix package)';
  }
  return undefined;
}

/** A port that was free a moment ago (the OS picks it; Postfix binds it right after). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface PostfixOptions {
  /** main.cf parameters added to (or overriding) the private-instance defaults. */
  main?: Record<string, string>;
  /** Extra master.cf lines (e.g. a transport with `-o` overrides). */
  master?: string[];
  /** Files written into the config directory (maps): name → content. */
  files?: Record<string, string>;
  /** Options for the smtpd service line (` -o key=value` each). */
  smtpdOptions?: Record<string, string>;
  prefix?: string;
}

export interface PostfixInstance {
  root: string;
  configDir: string;
  queueDir: string;
  /** Port of the private smtpd on 127.0.0.1. */
  port: number;
  logFile: string;
  log(): string;
  /** Resolves with the first log line matching `re` (polls the log file). */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Number of queue files under a queue sub-directory (incoming, active, deferred...). */
  queueCount(sub: string): number;
  postconf(name: string): string;
  stop(opts?: { keep?: boolean }): Promise<void>;
}

const SERVICES = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  return n;
}

export async function startPostfix(opts: PostfixOptions = {}): Promise<PostfixInstance> {
  const why = postfixUnavailable();
  if (why) throw new Error(`cannot run a private Postfix: ${why}`);
  const root = mkdtempSync(join(tmpdir(), opts.prefix ?? 'relais-postfix-'));
  // Postfix daemons run as the postfix user: they must traverse the tree and own data_directory.
  chmodSync(root, 0o755);
  const configDir = join(root, 'conf');
  const queueDir = join(root, 'queue');
  const dataDir = join(root, 'data');
  for (const d of [configDir, queueDir, dataDir]) mkdirSync(d, { mode: 0o755 });
  const uid = Number(execFileSync('id', ['-u', 'postfix']).toString().trim());
  chownSync(dataDir, uid, 0);
  const logFile = join(root, 'postfix.log');
  const port = await freePort();

  const main: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: queueDir,
    data_directory: dataDir,
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    myhostname: 'mailcow.test',
    mydomain: 'mailcow.test',
    myorigin: '$myhostname',
    mydestination: '',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject',
    biff: 'no',
    append_dot_mydomain: 'no',
    smtputf8_enable: 'yes',
    maillog_file: logFile,
    maillog_file_prefixes: root,
    ...opts.main,
  };
  writeFileSync(join(configDir, 'main.cf'), Object.entries(main).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  const smtpdOpts = Object.entries(opts.smtpdOptions ?? {}).map(([k, v]) => `\n  -o ${k}=${v}`).join('');
  writeFileSync(join(configDir, 'master.cf'), `127.0.0.1:${port} inet n - n - - smtpd${smtpdOpts}\n${SERVICES}${(opts.master ?? []).join('\n')}\n`);
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(configDir, name), content);

  const postfix = (...args: string[]) => run(POSTFIX_BIN, ['-c', configDir, ...args], { timeout: 30_000 });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  try {
    await postfix('start');
    running.add(configDir);
  } catch (err) {
    throw new Error(`postfix start failed: ${(err as Error).message}\n${log()}`);
  }
  // master binds the smtpd port before `postfix start` returns; wait for its log line anyway.
  const inst: PostfixInstance = {
    root,
    configDir,
    queueDir,
    port,
    logFile,
    log,
    async waitForLog(re, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = log().split('\n').find((l) => re.test(l));
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`no Postfix log line matching ${re} within ${timeoutMs} ms:\n${log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    queueCount: (sub) => countFiles(join(queueDir, sub)),
    postconf: (name) => execFileSync('/usr/sbin/postconf', ['-c', configDir, '-h', name]).toString().trim(),
    async stop({ keep = false } = {}) {
      await postfix('stop').catch(() => undefined);
      running.delete(configDir);
      if (!keep) rmSync(root, { recursive: true, force: true });
    },
  };
  await inst.waitForLog(/postfix\/master\[\d+\]: daemon started/);
  return inst;
}
