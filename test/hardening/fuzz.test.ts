/**
 * Fuzzing a real `relais start` process for a bounded time (FUZZ_SECONDS, default 20): random and
 * mutated SMTP dialogues on the submission and inbound listeners, carrying mutated MIME, DSN,
 * ARF and DKIM-signed-looking messages. Whatever comes in, the process must survive and keep
 * answering: each round ends with a fresh connection that must get its greeting and a NOOP
 * answer, and at the end well-formed mail and reports are still taken.
 *
 * A failure prints the seed; FUZZ_SEED=<seed> replays the same inputs (timing aside).
 */
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMx, type TestMx } from '../delivery/helpers.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { BOUNCE_DOMAIN, arfMessage, clientYaml, dialogue, dkimKey, dsnMessage, startE2eRelay, transaction, type Creds } from '../e2e-listmonk/helpers.js';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WORKERS = 3;
const DOMAIN = 'laruche.example';

/** mulberry32: small, fast, and the same sequence for a seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rnd: () => number) {}
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** Printable-ish text with the characters parsers trip on. */
  text(n: number): string {
    const alphabet = 'abcxyz019 .,;:<>"()[]@\\=?*_-+/\t\r\n\u00e9\u0430\u200b%!#';
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  /** A long run of one character, where backtracking parsers go quadratic. */
  run(): string {
    return this.pick(['<', '@', 'a', ' ', '"', '(', '=', '-', '\t', ';']).repeat(1 + this.int(this.chance(0.1) ? 300_000 : 3000));
  }
  address(): string {
    return this.pick([
      `user${this.int(9)}@${DOMAIN}`, `ceo@other.example`, `<>`, `a@b`, `"q@x"@${DOMAIN}`, `@route:u@${DOMAIN}`, `u%x@${DOMAIN}`,
      `x@l\u0430ruche.example`, `bounces+${this.text(6).replace(/[^a-z0-9]/g, 'a')}@${BOUNCE_DOMAIN}`, `${this.run().slice(0, 400)}@${DOMAIN}`,
      `x@[127.0.0.1]`, '', this.text(20), `dmarc@${BOUNCE_DOMAIN}`, `tlsrpt@${BOUNCE_DOMAIN}`, `postmaster@${BOUNCE_DOMAIN}`,
    ]);
  }
}

/** Mutations of a message or a dialogue: flips, cuts, repeats, bare line ends, long runs. */
function mutate(g: Gen, input: string): Buffer {
  let b = Buffer.from(input, g.chance(0.5) ? 'utf8' : 'latin1');
  for (let k = g.int(4); k > 0; k--) {
    const at = g.int(b.length + 1);
    switch (g.int(7)) {
      case 0: if (b.length) b[Math.min(at, b.length - 1)] = g.int(256); break;
      case 1: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + g.int(200)))]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from(g.run()), b.subarray(at)]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), Buffer.from(g.pick(['\n', '\r', '\r\n.\r\n', '\n.\n', '\r\n\r\n', '\0', '\r\n '])), b.subarray(at)]); break;
      case 4: { const s = g.int(b.length + 1); b = Buffer.concat([b, b.subarray(s, Math.min(b.length, s + g.int(5000)))]); break; }
      case 5: b = Buffer.concat([b.subarray(0, at), g.bytes(g.int(64)), b.subarray(at)]); break;
      default: b = Buffer.concat([b.subarray(0, at), Buffer.from(`\r\n${g.pick(['From', 'To', 'Content-Type', 'DKIM-Signature', 'Content-Transfer-Encoding', 'Subject'])}: ${g.text(40)}\r\n`), b.subarray(at)]);
    }
  }
  return b;
}

function mimeMessage(g: Gen, depth = 0): string {
  const boundary = g.chance(0.1) ? g.run().slice(0, 5000) : `b${g.int(1e6)}`;
  const headers = [
    ...Array.from({ length: g.chance(0.2) ? 0 : 1 + (g.chance(0.2) ? 1 : 0) }, () => `From: ${g.pick(['', 'Name ', '"x@y" '])}<${g.address()}>`),
    `To: ${g.address()}`, `Subject: ${g.text(30)}`, `Message-ID: <${g.int(1e9)}@${DOMAIN}>`,
    ...(g.chance(0.4) ? [`DKIM-Signature: v=1; a=${g.pick(['rsa-sha256', 'ed25519-sha256', 'x'])}; d=${g.pick([DOMAIN, 'other.example', ''])}; s=s${g.int(9)}; c=${g.pick(['relaxed/relaxed', 'simple/simple', '??'])};\r\n\th=${g.text(30)}; bh=${g.text(20)};\r\n\tb=${g.text(60)}`] : []),
    ...(g.chance(0.2) ? [`X-Long: ${g.run()}`] : []),
    ...(g.chance(0.3) ? [`List-Unsubscribe: <mailto:u@${DOMAIN}>`, 'List-Unsubscribe-Post: List-Unsubscribe=One-Click'] : []),
    'MIME-Version: 1.0',
    `Content-Type: ${g.pick(['multipart/mixed', 'multipart/alternative', 'multipart/report; report-type=delivery-status', 'text/plain'])}; boundary="${boundary}"`,
  ];
  const parts: string[] = [];
  for (let i = g.int(depth > 3 ? 1 : 4); i >= 0; i--) {
    parts.push(`--${boundary}`, depth < 12 && g.chance(0.3) ? mimeMessage(g, depth + 1) : [
      `Content-Type: ${g.pick(['text/plain', 'text/html', 'message/delivery-status', 'message/feedback-report', 'message/rfc822', 'text/rfc822-headers'])}`,
      `Content-Transfer-Encoding: ${g.pick(['7bit', 'base64', 'quoted-printable', '8bit', 'x-unknown'])}`, '',
      g.chance(0.5) ? g.text(g.int(2000)) : `Final-Recipient: rfc822; ${g.address()}\r\nAction: ${g.pick(['failed', 'delayed', 'x'])}\r\nStatus: ${g.pick(['5.1.1', '4.2.2', '9.9.9', ''])}\r\nOriginal-Rcpt-To: ${g.address()}`,
    ].join('\r\n'));
  }
  if (g.chance(0.8)) parts.push(`--${boundary}--`);
  return `${headers.join('\r\n')}\r\n\r\n${parts.join('\r\n')}\r\n`;
}

/** A DMARC aggregate or TLS report as mailed: gzip attachment, sometimes crafted (deep, huge, broken). */
function dmarcMessage(g: Gen): string {
  const rows = Array.from({ length: g.int(g.chance(0.1) ? 5000 : 5) }, () =>
    `<record><row><source_ip>${g.pick(['192.0.2.1', '::1', g.text(10)])}</source_ip><count>${g.pick(['1', '-5', '99999999999999999999', g.text(4)])}</count></row></record>`).join('');
  let xml = `<?xml version="1.0"?>${g.chance(0.1) ? '<!DOCTYPE x [<!ENTITY a "aaaa">]>' : ''}<feedback><report_metadata><org_name>${g.text(10)}</org_name><report_id>${g.int(1e9)}</report_id></report_metadata><policy_published><domain>${DOMAIN}</domain></policy_published>${rows}</feedback>`;
  if (g.chance(0.1)) xml = `${'<a>'.repeat(20_000)}${xml}`;
  const tls = g.chance(0.3);
  const payload = tls ? gzipSync(JSON.stringify({ 'organization-name': g.text(8), policies: [{ summary: { 'total-failure-session-count': g.int(9) } }] })) : g.chance(0.1) ? gzipSync(Buffer.alloc(4 * 1024 * 1024)) : gzipSync(xml);
  const data = g.chance(0.2) ? mutate(g, payload.toString('latin1')) : payload;
  return [
    `From: reports@${g.pick(['google.com', 'remote.example'])}`, `To: ${tls ? 'tlsrpt' : 'dmarc'}@${BOUNCE_DOMAIN}`, `Subject: Report domain: ${DOMAIN}`,
    'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="z"', '', '--z', 'Content-Type: text/plain', '', 'report', '--z',
    `Content-Type: ${tls ? 'application/tlsrpt+gzip' : g.pick(['application/gzip', 'application/zip', 'application/octet-stream'])}`,
    'Content-Transfer-Encoding: base64', `Content-Disposition: attachment; filename="r.${tls ? 'json' : 'xml'}.gz"`, '',
    data.toString('base64').replace(/.{76}/g, '$&\r\n'), '--z--', '',
  ].join('\r\n');
}

function reportMessage(g: Gen): string {
  if (g.chance(0.35)) return dmarcMessage(g);
  const to = `bounces+${g.pick(['ref1', 'abc', 'zz9'])}@${BOUNCE_DOMAIN}`;
  const original = { from: `lettre@${DOMAIN}`, campaign: g.chance(0.5) ? g.text(36) : undefined, subscriber: g.chance(0.5) ? g.text(36) : undefined };
  return g.chance(0.5)
    ? dsnMessage({ to, recipient: g.address(), action: g.pick(['failed', 'delayed'] as const), status: g.pick(['5.1.1', '4.4.7', '']), diagnostic: g.text(80), original })
    : arfMessage({ to, recipient: g.address(), original });
}

/** Writes `chunks` to a fresh connection, reading whatever comes back; resolves when closed or after `ms`. */
async function blast(port: number, chunks: Buffer[], ms: number): Promise<string> {
  const s: Socket = connect(port, '127.0.0.1');
  let got = '';
  s.on('data', (d: Buffer) => {
    got += d.toString('latin1').slice(0, 10_000);
  });
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      s.destroy();
      resolve();
    }, ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.once('connect', async () => {
      for (const c of chunks) {
        if (s.destroyed) break;
        s.write(c);
        await new Promise((r) => setImmediate(r));
      }
      if (!s.destroyed) s.end();
    });
  });
  return got;
}

function authLine(creds: Creds): string {
  return `AUTH PLAIN ${Buffer.from(`\0${creds.user}\0${creds.pass}`).toString('base64')}\r\n`;
}

/** One fuzzed session: a dialogue of commands (some mutated) and possibly a message. */
function session(g: Gen, users: Creds[], inbound: boolean): Buffer[] {
  const out: Buffer[] = [];
  if (g.chance(0.1)) return [g.bytes(g.int(20_000))];
  out.push(Buffer.from(g.chance(0.9) ? `EHLO ${g.pick(['client.test', '', g.text(20), g.run().slice(0, 2000)])}\r\n` : 'HELO x\r\n'));
  // Only the right credentials: failures are counted per address and this one must keep working.
  if (!inbound && g.chance(0.7)) out.push(Buffer.from(authLine(g.pick(users))));
  for (let t = 1 + g.int(3); t > 0; t--) {
    const cmds = [
      `MAIL FROM:<${g.address()}>${g.pick(['', ' SIZE=99999999999', ' BODY=8BITMIME', ' SMTPUTF8', ` ${g.text(10)}`])}`,
      ...Array.from({ length: 1 + g.int(3) }, () => `RCPT TO:<${g.address()}>${g.pick(['', ' NOTIFY=NEVER', ` ${g.text(8)}`])}`),
    ];
    if (g.chance(0.15)) cmds.push(g.pick(['RSET', 'NOOP', 'VRFY x', 'STARTTLS', 'BDAT 10', 'XCLIENT ADDR=1.2.3.4', g.text(30)]));
    out.push(g.chance(0.2) ? mutate(g, cmds.join('\r\n') + '\r\n') : Buffer.from(cmds.join('\r\n') + '\r\n'));
    out.push(Buffer.from('DATA\r\n'));
    const message = g.chance(inbound ? 0.7 : 0.2) ? reportMessage(g) : mimeMessage(g);
    const body = g.chance(0.6) ? mutate(g, message) : Buffer.from(message);
    // Dot-stuff what the fuzzer did not mean to end DATA with, most of the time.
    const stuffed = g.chance(0.8) ? Buffer.from(body.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1') : body;
    for (let i = 0; i < stuffed.length; i += 1 + g.int(70_000)) out.push(stuffed.subarray(i, i + 1 + g.int(70_000)));
    out.push(Buffer.from(g.chance(0.95) ? '\r\n.\r\n' : ''));
  }
  if (g.chance(0.7)) out.push(Buffer.from('QUIT\r\n'));
  return out;
}

describe('fuzzing a relay process', () => {
  let mx: TestMx;
  let relay: RelayProcess;
  let mailcow: Creds;
  let listmonk: Creds;
  let inbound: number;

  beforeAll(async () => {
    mx = await startMx('127.0.0.1', await freePort());
    const mc = await clientYaml('mailcow', { tenants: ['laruche'] });
    const lc = await clientYaml('listmonk', { tenants: ['laruche'], newsletter: true });
    mailcow = mc.creds;
    listmonk = lc.creds;
    relay = await startE2eRelay(['tenants:', '  - id: laruche', `    domains: [${DOMAIN}]`, 'clients:', mc.yaml, lc.yaml].join('\n'), {
      RELAIS_SMARTHOST: `127.0.0.1:${mx.port}`,
      RELAIS_SMARTHOST_TLS: 'none',
      RELAIS_BOUNCE_DOMAIN: BOUNCE_DOMAIN,
      RELAIS_INBOUND_LISTEN: '127.0.0.1:0',
      RELAIS_POSTMASTER_FORWARD: 'admin@relais.test',
      RELAIS_DKIM_MASTER_KEY: 'fuzz-master-key-0123456789abcdef',
      RELAIS_SMTP_MAX_REPORT_SIZE: '262144',
    });
    inbound = relay.smtpPorts[1]!;
    // Accepted mail is signed: the fuzzed headers go through the DKIM signer too.
    await dkimKey(relay, DOMAIN);
  });
  afterAll(async () => {
    await relay?.stop();
    await mx?.close();
  });

  it(`survives ${SECONDS} s of random and mutated dialogues and keeps answering (seed ${SEED})`, async () => {
    const deadline = Date.now() + SECONDS * 1000;
    let rounds = 0;
    /** Reply codes seen: the fuzzer must get past the greeting into DATA, refusals and acceptances. */
    const codes = new Set<string>();
    const alive = async (why: string): Promise<void> => {
      const c = await RawSmtp.connect(relay.smtpPort).catch((err: Error) => {
        throw new Error(`seed ${SEED}, after ${why}: cannot connect (${err.message}); last logs:\n${relay.logs.slice(-20).join('\n')}`);
      });
      try {
        const greet = await c.reply(15_000);
        expect(greet.code, `seed ${SEED}, after ${why}`).toBe(220);
        expect((await c.command('NOOP')).code, `seed ${SEED}, after ${why}`).toBe(250);
      } finally {
        c.close();
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
      const g = new Gen(prng(SEED + w));
      while (Date.now() < deadline) {
        const toInbound = g.chance(0.4);
        const chunks = session(g, [mailcow, listmonk], toInbound);
        const got = await blast(toInbound ? inbound : relay.smtpPort, chunks, 8_000);
        for (const m of got.matchAll(/^(\d{3})[ -]/gm)) codes.add(m[1]!);
        rounds++;
        await alive(`round ${rounds} (worker ${w})`);
      }
    }));
    expect(rounds).toBeGreaterThan(10);
    if (process.env.FUZZ_VERBOSE) console.log({ seed: SEED, rounds, codes: [...codes].sort() });
    expect([...codes].filter((c) => ['235', '354', '250'].includes(c)).sort(), `seed ${SEED}`).toEqual(['235', '250', '354']);
    expect([...codes].some((c) => c.startsWith('5')), `seed ${SEED}`).toBe(true);

    // Still the same process, and it still does its job.
    expect(relay.child.exitCode, `seed ${SEED}`).toBeNull();
    expect(relay.events().filter((e) => Number(e.level) >= 60), `seed ${SEED}`).toEqual([]);
    const c = await dialogue(relay.smtpPort, mailcow);
    const ok = await transaction(c, `alice@${DOMAIN}`, ['bob@dest.example'], `From: alice@${DOMAIN}\r\nTo: bob@dest.example\r\nSubject: after\r\n\r\nStill here.\r\n`);
    expect(ok.final?.code, `seed ${SEED}: ${ok.final?.text}`).toBe(250);
    c.close();
    const r = await dialogue(inbound);
    const dsn = dsnMessage({ to: `bounces+ref1@${BOUNCE_DOMAIN}`, recipient: 'x@dest.example', action: 'failed', status: '5.1.1', diagnostic: 'no such user', original: { from: `lettre@${DOMAIN}` } });
    const rep = await transaction(r, '', [`bounces+ref1@${BOUNCE_DOMAIN}`], dsn);
    expect(rep.final?.code, `seed ${SEED}: ${rep.final?.text}`).toBe(250);
    r.close();
  });
});
