/**
 * Debian's Postfix as the upstream client, configured like Mailcow's outbound relayhost: mail
 * submitted to a private Postfix instance must arrive in Relais's spool through STARTTLS + AUTH,
 * split in 50-recipient transactions, byte for byte; a wrong password (535) must make Postfix
 * bounce, not defer (Mailcow sets smtp_sasl_auth_soft_bounce = no).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { SMTPServer } from 'smtp-server';
import { transport } from '../helpers/mail.js';
import { CLI, startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { freePort, readEnvelopes, spooledBytes, startMailcowLikePostfix, waitForEnvelopes, type PostfixInstance } from '../helpers/postfix.js';

const hash = (pw: string) => execFileSync(process.execPath, [CLI, 'hash-password'], { input: pw }).toString().trim();
const CRLF = '\r\n';

/** A message as a Mailcow user's client would submit it: every header present, so Postfix adds none. */
function rawMessage(opts: { from: string; to: string; subject: string; id: string; body: string; extra?: string[] }): string {
  return [
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    `Date: Tue, 25 Nov 2025 10:00:00 +0100`,
    `Message-ID: <${opts.id}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    ...(opts.extra ?? []),
    '',
    opts.body,
  ].join(CRLF);
}

/** Catches what Postfix sends through its plain `dsnsink` transport (the bounces). */
async function startDsnSink(): Promise<{ port: number; mails: Array<{ from: string; to: string[]; data: string }>; close(): Promise<void> }> {
  const mails: Array<{ from: string; to: string[]; data: string }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as { port: number }).port;
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('Postfix (Mailcow-like relayhost) → Relais', () => {
  let relay: RelayProcess;
  let postfix: PostfixInstance | undefined;
  let sink: Awaited<ReturnType<typeof startDsnSink>>;

  beforeAll(async () => {
    const dir = tempDir();
    const config = writeYaml(
      dir,
      `clients:
  - name: mailcow
    password_hash: "${hash('Mailcow-relay-pw')}"
    tenants: ["*"]
smtp:
  # AUTH only after STARTTLS, even from loopback: Postfix must really do TLS.
  insecure_auth_networks: []
policies:
  defaults:
    # This file tests transport, not the bulk policy (which sums Postfix's split transactions).
    bulk: { recipients_per_message: 500 }
`,
    );
    // Delivery goes to a closed port: spooled mail stays in the spool for the assertions.
    relay = await startRelay({ configFile: config, env: { RELAIS_HOSTNAME: 'relais.test', RELAIS_SMARTHOST: `127.0.0.1:${await freePort()}` } });
    sink = await startDsnSink();
    postfix = await startMailcowLikePostfix({
      relaisPort: relay.smtpPort,
      credentials: { relayhost: 'mailcow:Mailcow-relay-pw', '@mauvais-mdp.example': 'mailcow:mot-de-passe-faux' },
      sinks: { 'mauvais-mdp.example': `[127.0.0.1]:${sink.port}` },
    });
  });

  afterAll(async () => {
    await postfix?.stop();
    await sink?.close();
    await relay?.stop();
  });

  /** On failure: what Postfix did (its log says what Relais answered). */
  const explain = () => `Postfix log:\n${postfix!.log().split('\n').filter((l) => !/ to=<membre/.test(l) || /status=(deferred|bounced)/.test(l)).slice(-40).join('\n')}`;
  const submit = (from: string, to: string[], raw: string) => transport(postfix!.port).sendMail({ envelope: { from, to }, raw });

  it('relays over STARTTLS with AUTH: envelope, client name and bytes arrive intact', async () => {
    const raw = rawMessage({ from: 'Alice <alice@laruche.example>', to: 'bob@example.org, carol@example.net', subject: 'Ordre du jour', id: 'simple.1@laruche.example', body: `Bonjour,${CRLF}${CRLF}.ligne qui commence par un point${CRLF}-- ${CRLF}Alice${CRLF}` });
    const info = await submit('alice@laruche.example', ['bob@example.org', 'carol@example.net'], raw);
    expect(info.response).toMatch(/^250 .*queued as/);
    const [env] = await waitForEnvelopes(relay.dataDir, (e) => e.messageId === '<simple.1@laruche.example>' || e.messageId === 'simple.1@laruche.example', 1, { explain });
    expect(env!.from).toBe('alice@laruche.example');
    expect(env!.recipients.map((r) => r.address).sort()).toEqual(['bob@example.org', 'carol@example.net']);
    expect(env!.client.name).toBe('mailcow');
    expect(env!.client.user).toBe('mailcow');
    expect(env!.client.tls).toBe(true);
    expect(env!.client.helo).toBe('mailcow.test');
    const body = spooledBytes(relay.dataDir, env!.id);
    const text = body.toString('utf8');
    // Relais's own Received header first: TLS and AUTH (ESMTPSA), then Postfix's.
    expect(text).toMatch(/^Received: from mailcow\.test [^\r]*(\r\n\t[^\r]*)*\r\n\tby relais\.test \(Relais\) with ESMTPSA id /);
    expect(text).toMatch(/\r\nReceived: from [^\r]*(\r\n\s[^\r]*)*by mailcow\.test \(Postfix\)/);
    expect(body.subarray(body.length - Buffer.byteLength(raw)).equals(Buffer.from(raw))).toBe(true);
    expect(env!.size).toBe(body.length);
    // Postfix's log confirms the TLS session and the relayhost's answer.
    await postfix!.waitForLog(/Trusted TLS connection established to 127\.0\.0\.1|Untrusted TLS connection established to 127\.0\.0\.1|Anonymous TLS connection established to 127\.0\.0\.1/);
    await postfix!.waitForLog(new RegExp(`to=<bob@example\\.org>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${relay.smtpPort}.*status=sent \\(250 2\\.0\\.0 `));
  });

  it('splits 120 recipients into 50 + 50 + 20 transactions with the same Message-ID', async () => {
    const rcpts = Array.from({ length: 120 }, (_, i) => `membre${String(i).padStart(3, '0')}@${['example.org', 'example.net', 'example.com'][i % 3]}`);
    const raw = rawMessage({ from: 'asso@laruche.example', to: 'membres@laruche.example', subject: 'Assemblée générale', id: 'ag.2025@laruche.example', body: `Convocation${CRLF}` });
    await submit('asso@laruche.example', rcpts, raw);
    const envs = await waitForEnvelopes(relay.dataDir, (e) => e.from === 'asso@laruche.example', 3, { explain });
    expect(envs).toHaveLength(3);
    expect(envs.map((e) => e.recipients.length).sort((a, b) => b - a)).toEqual([50, 50, 20]);
    expect(new Set(envs.map((e) => e.messageId)).size).toBe(1);
    expect(envs[0]!.messageId).toMatch(/ag\.2025@laruche\.example/);
    expect(envs.flatMap((e) => e.recipients.map((r) => r.address)).sort()).toEqual([...rcpts].sort());
    for (const e of envs) {
      expect(e.client.name).toBe('mailcow');
      const body = spooledBytes(relay.dataDir, e.id);
      expect(body.subarray(body.length - Buffer.byteLength(raw)).toString()).toBe(raw);
    }
  });

  it('passes 8-bit UTF-8 headers, body and an SMTPUTF8 recipient through unchanged (no QP conversion); drops X-Originating-IP like Mailcow', async () => {
    const kept = rawMessage({
      from: 'Zoé Lefèvre <zoe@laruche.example>',
      to: 'Søren <soren@example.org>',
      subject: 'Café ☕ et crème brûlée — 日本語',
      id: 'utf8.1@laruche.example',
      body: `Très bien reçu ! Ça coûte 12 € 😀${CRLF}Ünïcödé ßtraße${CRLF}`,
    });
    // The same message with a header Mailcow's smtp_header_checks removes on the way out.
    const raw = kept.replace(`${CRLF}MIME-Version`, `${CRLF}X-Originating-IP: [192.0.2.7]${CRLF}MIME-Version`);
    await submit('zoe@laruche.example', ['soren@example.org', 'andré@exemple.fr'], raw);
    const [env] = await waitForEnvelopes(relay.dataDir, (e) => e.from === 'zoe@laruche.example', 1, { explain });
    expect(env!.recipients.map((r) => r.address).sort()).toEqual(['andré@exemple.fr', 'soren@example.org']);
    const body = spooledBytes(relay.dataDir, env!.id);
    const tail = body.subarray(body.length - Buffer.byteLength(kept));
    expect(tail.equals(Buffer.from(kept, 'utf8'))).toBe(true);
    expect(body.toString('utf8')).not.toContain('X-Originating-IP');
    expect(env!.subject).toBe('Café ☕ et crème brûlée — 日本語');
  });

  it('a wrong relayhost password (535) makes Postfix bounce the mail to its sender, not defer it', async () => {
    const raw = rawMessage({ from: 'x@mauvais-mdp.example', to: 'y@example.org', subject: 'Mauvais mot de passe', id: 'badpw.1@mauvais-mdp.example', body: `test${CRLF}` });
    const info = await submit('x@mauvais-mdp.example', ['y@example.org'], raw);
    const queueId = /queued as ([0-9A-Za-z]+)/.exec(info.response)![1]!;
    const bounced = await postfix!.waitForLog(new RegExp(`${queueId}: to=<y@example\\.org>, relay=127\\.0\\.0\\.1.*status=bounced \\(.*535 5\\.7\\.8`));
    expect(bounced).toMatch(/SASL authentication failed/);
    await postfix!.waitForLog(new RegExp(`${queueId}: sender non-delivery notification`));
    // The DSN reaches the sender (here through the plain `dsnsink` transport) and quotes our 535.
    const deadline = Date.now() + 20_000;
    while (!sink.mails.some((m) => m.to.includes('x@mauvais-mdp.example')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const dsn = sink.mails.find((m) => m.to.includes('x@mauvais-mdp.example'))!;
    expect(dsn).toBeDefined();
    expect(dsn.from).toBe('');
    expect(dsn.data).toMatch(/Content-Type: multipart\/report; report-type=delivery-status/);
    expect(dsn.data).toMatch(/Action: failed/);
    expect(dsn.data).toMatch(/535 5\.7\.8/);
    expect(dsn.data).toContain('Message-ID: <badpw.1@mauvais-mdp.example>');
    // Nothing left waiting in Postfix, nothing accepted by Relais.
    expect(postfix!.queueCount('deferred') + postfix!.queueCount('active') + postfix!.queueCount('incoming')).toBe(0);
    expect(readEnvelopes(relay.dataDir).some((e) => e.from === 'x@mauvais-mdp.example')).toBe(false);
  });
});
