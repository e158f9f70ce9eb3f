/**
 * A real client's end of DATA while 8 connections guess passwords (issue 18: scrypt on libuv's
 * pool raised it from 2–3 ms to ~330 ms). Target: p99 < 50 ms. Three runs on one relay setup:
 * no guessing (baseline), guessing with the default limits (each guessing address is blocked
 * after 10 failures and then costs no scrypt), and guessing with the limits out of reach (scrypt
 * without pause, the worst case for spool I/O). Guessers come from 127.0.0.10–17, the client from
 * 127.0.0.1 (a network client, no AUTH).
 *
 * BENCH_AUTH_MESSAGES   messages of the real client per run (default 2000; e.g. 200 for a quick run)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { hashPassword } from '../../src/clients/password.js';
import { section } from '../lib/registry.js';
import { startTarpit } from '../lib/tarpit.js';
import { startBenchRelay } from '../lib/relay.js';
import { makeMessage, percentile, runLoad } from '../lib/smtp-load.js';

const GUESSERS = 8;

/** One guessing connection after another from `from`, until stopped: returns the AUTH attempts made. */
async function guess(port: number, from: string, stopped: () => boolean): Promise<{ attempts: number; refusals421: number }> {
  let attempts = 0;
  let refusals421 = 0;
  const auth = `AUTH PLAIN ${Buffer.from('\0mailcow\0pas-le-bon').toString('base64')}\r\n`;
  while (!stopped()) {
    await new Promise<void>((resolve) => {
      const s: Socket = connect({ port, host: '127.0.0.1', localAddress: from });
      let buf = '';
      let stage = 0;
      const done = () => {
        s.destroy();
        resolve();
      };
      s.on('error', done);
      s.on('close', done);
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let nl = buf.indexOf('\r\n'); nl >= 0; nl = buf.indexOf('\r\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          if (line[3] === '-') continue;
          const code = Number(line.slice(0, 3));
          if (stopped()) return done();
          if (stage === 0) s.write('EHLO guesser.example\r\n');
          else {
            if (stage > 1) attempts++;
            if (code === 421) {
              refusals421++;
              return done();
            }
            s.write(auth);
          }
          stage++;
        }
      });
    });
  }
  return { attempts, refusals421 };
}

section('auth-guessing', async (ctx) => {
  const messages = Number(process.env.BENCH_AUTH_MESSAGES ?? 2000);
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-auth-'));
  const hash = await hashPassword('le-bon-mot-de-passe');
  const tarpit = await startTarpit();
  const message = makeMessage(2048);
  try {
    for (const run of ['no guessing', '8 guessing, default limits', '8 guessing, limits out of reach'] as const) {
      const file = join(dir, `${run.length}.yaml`);
      writeFileSync(
        file,
        `clients:
  - name: mailcow
    password_hash: "${hash}"
    tenants: ["*"]
  - name: client
    networks: [127.0.0.1/32]
    tenants: ["*"]
    trusted: true
smtp:
  insecure_auth_networks: [127.0.0.0/8]
${run.endsWith('out of reach') ? '  auth_failures_per_address: 1000000\n  auth_failures_per_user: 1000000\n' : ''}`,
      );
      const relay = await startBenchRelay({ RELAIS_SMARTHOST: `127.0.0.1:${tarpit.port}`, RELAIS_ALLOW_PRIVATE_MX: 'true' }, { configFile: file });
      try {
        await runLoad({ port: relay.smtpPort, sessions: 1, maxMessages: Math.min(200, messages), message });
        let stop = false;
        const guessers = run === 'no guessing' ? [] : Array.from({ length: GUESSERS }, (_, i) => guess(relay.smtpPort, `127.0.0.${10 + i}`, () => stop));
        // Let the guessers get going (and, with the limits, get blocked) before measuring.
        await new Promise((r) => setTimeout(r, guessers.length ? 500 : 0));
        const r = await runLoad({ port: relay.smtpPort, sessions: 1, maxMessages: messages, maxMs: 120_000, message });
        stop = true;
        const g = await Promise.all(guessers);
        ctx.record(run, {
          'p50 ms': percentile(r.latencies, 50),
          'p99 ms': percentile(r.latencies, 99),
          'max ms': r.latencies.at(-1),
          'msg/s': r.perSecond,
          messages: r.messages,
          'AUTH attempts': g.reduce((n, x) => n + x.attempts, 0) || undefined,
          '421 answers': g.reduce((n, x) => n + x.refusals421, 0) || undefined,
          errors: r.errors.length || undefined,
        });
        if (r.errors.length) ctx.note(`errors (${run}): ${r.errors.slice(0, 3).join('; ')}`);
      } finally {
        await relay.stop();
      }
    }
    ctx.note('target: p99 < 50 ms for the real client while 8 connections guess passwords');
  } finally {
    await tarpit.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
