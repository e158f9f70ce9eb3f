import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { CLI, startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { spooledBody, spooledEnvelopes, spoolFileCount } from '../helpers/spool-files.js';
import { transport } from '../helpers/mail.js';

/** Accepted mail stays queued: deliveries go to a closed port and are retried an hour later. */
const NO_DELIVERY = { RELAIS_SMARTHOST: '127.0.0.1:9', RELAIS_QUEUE_RETRY_FIRST: '1h' };

const hash = (pw: string) => execFileSync(process.execPath, [CLI, 'hash-password'], { input: pw }).toString().trim();

async function dialogue(port: number): Promise<RawSmtp> {
  const c = await RawSmtp.connect(port);
  expect((await c.reply()).code).toBe(220);
  expect((await c.command('EHLO client.test')).code).toBe(250);
  return c;
}

describe('SMTP intake with default config (loopback may relay)', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await startRelay({ env: { ...NO_DELIVERY, RELAIS_MAX_MESSAGE_SIZE: '20000', RELAIS_MAX_RECIPIENTS: '3', RELAIS_HOSTNAME: 'relais.test' } });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it('accepts a message with nodemailer, answers "queued as ID" and spools it with added headers', async () => {
    const info = await transport(relay.smtpPort).sendMail({
      from: 'alice@laruche.example',
      to: ['bob@example.org', 'carol@example.net'],
      subject: 'Réunion',
      text: 'Bonjour à tous',
    });
    const m = /queued as ([0-9A-Z]{16})/.exec(info.response);
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const id = m![1]!;
    const env = spooledEnvelopes(relay.dataDir).find((e) => e.id === id)!;
    expect(env.from).toBe('alice@laruche.example');
    expect(env.recipients.map((r) => r.address)).toEqual(['bob@example.org', 'carol@example.net']);
    expect(env.recipients.every((r) => r.status === 'pending' || r.status === 'deferred')).toBe(true);
    expect(env.state).toBe('active');
    const body = spooledBody(relay.dataDir, id);
    expect(body.startsWith(`Received: from client.test`)).toBe(false); // nodemailer's EHLO is the host name
    expect(body).toMatch(/^Received: from .*\r\n\tby relais\.test \(Relais\) with ESMTPS? id [0-9A-Z]{16};/);
    expect(body).toContain('Subject: =?UTF-8?Q?R=C3=A9union?=');
    expect(env.size).toBe(Buffer.byteLength(body));
  });

  it('adds Message-ID and Date when missing, keeps the bytes otherwise', async () => {
    const c = await dialogue(relay.smtpPort);
    await c.command('MAIL FROM:<a@laruche.example>');
    await c.command('RCPT TO:<b@example.org>');
    expect((await c.command('DATA')).code).toBe(354);
    c.send('From: a@laruche.example\r\nSubject: nu\r\n\r\nligne 1\r\n..point\r\n.\r\n');
    const r = await c.reply();
    expect(r.code).toBe(250);
    const id = /queued as (\S+)/.exec(r.text)![1]!;
    const body = spooledBody(relay.dataDir, id);
    expect(body).toMatch(/\r\nSubject: nu\r\nMessage-ID: <[^>]+@relais\.test>\r\nDate: [^\r]+\r\n\r\nligne 1\r\n\.point\r\n$/);
    c.close();
  });

  it('un-stuffs leading dots exactly, whatever the TCP segmentation', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) lines.push(i % 7 === 0 ? `.${'.'.repeat(i % 3)}line ${i}` : i % 11 === 0 ? '.' : `line ${i} ${'x'.repeat(i % 90)}`);
    const body = `Subject: dots\r\nFrom: a@laruche.example\r\n\r\n${lines.join('\r\n')}\r\n`;
    const stuffed = body.split('\r\n').map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n');
    const c = await dialogue(relay.smtpPort);
    await c.command('MAIL FROM:<a@laruche.example>');
    await c.command('RCPT TO:<b@example.org>');
    await c.command('DATA');
    const wire = Buffer.from(`${stuffed}.\r\n`);
    for (let off = 0, n = 1; off < wire.length; off += n, n = (n * 7 + 3) % 1500 + 1) {
      c.send(wire.subarray(off, off + n));
      if (n % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    const r = await c.reply();
    expect(r.code).toBe(250);
    const id = /queued as (\S+)/.exec(r.text)![1]!;
    const spooled = spooledBody(relay.dataDir, id);
    expect(spooled.slice(spooled.indexOf('Subject: dots'))).toBe(body.replace('From: a@laruche.example\r\n\r\n', `From: a@laruche.example\r\n${/Message-ID: [^\r]+\r\nDate: [^\r]+\r\n/.exec(spooled)![0]}\r\n`));
    c.close();
  });

  it('advertises PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, SIZE, STARTTLS and AUTH', async () => {
    const c = await RawSmtp.connect(relay.smtpPort);
    await c.reply();
    const ehlo = await c.command('EHLO client.test');
    for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'SIZE 20000', 'STARTTLS', 'AUTH PLAIN LOGIN']) expect(ehlo.text).toContain(ext);
    c.close();
  });

  it('answers a pipelined transaction in order', async () => {
    const c = await dialogue(relay.smtpPort);
    c.send('MAIL FROM:<a@laruche.example>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<bad address>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n');
    const replies = [await c.reply(), await c.reply(), await c.reply(), await c.reply(), await c.reply()];
    expect(replies.map((r) => r.code)).toEqual([250, 250, 501, 250, 354]);
    c.send('Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n');
    expect((await c.reply()).code).toBe(250);
    expect((await c.reply()).code).toBe(221);
  });

  it('refuses invalid and routing-trick addresses with 553 and a clear text', async () => {
    const c = await dialogue(relay.smtpPort);
    const from = await c.command('MAIL FROM:<pas-une-adresse@>');
    expect([501, 553]).toContain(from.code);
    expect(from.text).toMatch(/^5\.[15]\.\d+ \S/);
    const hack = await c.command('MAIL FROM:<a%victim.example@laruche.example>');
    expect(hack.code).toBe(553);
    expect(hack.text).toMatch(/^5\.1\.7 Adresse d’expéditeur invalide .* \/ Invalid sender address/);
    expect((await c.command('MAIL FROM:<a@laruche.example>')).code).toBe(250);
    for (const rcpt of ['<user%victim.example@laruche.example>', '<victim.example!user@laruche.example>', '<"user@victim.example"@laruche.example>', '<user@[10.0.0.1]>', '<user@-bad-.example>']) {
      const r = await c.command(`RCPT TO:${rcpt}`);
      expect([501, 553], rcpt).toContain(r.code);
      expect(r.text, rcpt).toMatch(/^5\.[15]\.\d/);
    }
    c.close();
  });

  it('limits recipients per message with 452 4.5.3', async () => {
    const c = await dialogue(relay.smtpPort);
    await c.command('MAIL FROM:<a@laruche.example>');
    for (const n of [1, 2, 3]) expect((await c.command(`RCPT TO:<r${n}@example.org>`)).code).toBe(250);
    const r = await c.command('RCPT TO:<r4@example.org>');
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.5\.3 /);
    c.close();
  });

  it('refuses oversize messages with 552 5.3.4 (declared and actual) and keeps nothing', async () => {
    const before = spooledEnvelopes(relay.dataDir).length;
    const c = await dialogue(relay.smtpPort);
    const declared = await c.command('MAIL FROM:<a@laruche.example> SIZE=999999');
    expect(declared.code).toBe(552);
    await c.command('MAIL FROM:<a@laruche.example>');
    await c.command('RCPT TO:<b@example.org>');
    await c.command('DATA');
    c.send(`Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(1));
    for (let i = 0; i < 40; i++) c.send(`${'y'.repeat(998)}\r\n`);
    c.send('.\r\n');
    const r = await c.reply();
    expect(r.code).toBe(552);
    expect(r.text).toMatch(/^5\.3\.4 /);
    // The session is still usable after the refusal.
    expect((await c.command('RSET')).code).toBe(250);
    c.close();
    expect(spooledEnvelopes(relay.dataDir).length).toBe(before);
    expect(spoolFileCount(relay.dataDir, 'messages')).toBe(before);
  });

  for (const [name, smuggle] of [
    ['LF', '\n.\n'],
    ['CR', '\r.\r'],
    ['mixed LF', '\r\n.\n'],
  ] as const) {
    it(`never ends DATA early on bare ${name} (smuggling) and never yields a second message`, async () => {
      const before = spooledEnvelopes(relay.dataDir).length;
      const c = await dialogue(relay.smtpPort);
      await c.command('MAIL FROM:<a@laruche.example>');
      await c.command('RCPT TO:<b@example.org>');
      await c.command('DATA');
      c.send(`Subject: smuggle\r\n\r\nhello${smuggle}MAIL FROM:<evil@victim.example>\r\nRCPT TO:<target@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n`);
      const r = await c.reply();
      expect(r.code).toBe(250);
      expect(c.pending()).toBe('');
      expect((await c.command('NOOP')).code).toBe(250);
      const after = spooledEnvelopes(relay.dataDir);
      expect(after.length).toBe(before + 1);
      const id = /queued as (\S+)/.exec(r.text)![1]!;
      const body = spooledBody(relay.dataDir, id);
      // Normalised: every line ends with CRLF, the smuggled commands are body text.
      expect(body).toContain('hello\r\n.\r\nMAIL FROM:<evil@victim.example>');
      expect(/[^\r]\n/.test(body) || /\r[^\n]/.test(body)).toBe(false);
      c.close();
    });
  }

  it('STARTTLS works with the self-signed certificate generated in the data dir', async () => {
    const c = await dialogue(relay.smtpPort);
    await c.starttls();
    const ehlo = await c.command('EHLO client.test');
    expect(ehlo.code).toBe(250);
    expect(ehlo.text).not.toContain('STARTTLS');
    await c.command('MAIL FROM:<a@laruche.example>');
    await c.command('RCPT TO:<b@example.org>');
    await c.command('DATA');
    c.send('Subject: tls\r\n\r\nx\r\n.\r\n');
    const r = await c.reply();
    expect(r.code).toBe(250);
    const id = /queued as (\S+)/.exec(r.text)![1]!;
    expect(spooledBody(relay.dataDir, id)).toMatch(/with ESMTPS id/);
    c.close();
  });

  it('logs one line per transaction with the queue id', async () => {
    await transport(relay.smtpPort).sendMail({ from: 'log@laruche.example', to: 'x@example.org', text: 'x' });
    const line = await relay.waitForLog((e) => e.msg === 'smtp: message queued' && e.from === 'log@laruche.example');
    expect(line.queueId).toMatch(/^[0-9A-Z]{16}$/);
    expect(line.rcpts).toBe(1);
  });
});

describe('SMTP intake with configured clients (AUTH, allowlist, no open relay)', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    const dir = tempDir();
    const file = writeYaml(
      dir,
      `clients:
  - name: mailcow
    password_hash: "${hash('s3cret-mailcow')}"
    tenants: ["*"]
smtp:
  insecure_auth_networks: []
`,
    );
    relay = await startRelay({ configFile: file, env: NO_DELIVERY });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it('refuses unauthenticated clients at MAIL FROM with 530 5.7.0, whatever the address tricks', async () => {
    for (const from of ['a@laruche.example', 'user%victim@laruche.example', '@relay:user@victim.example', '']) {
      const c = await dialogue(relay.smtpPort);
      const r = await c.command(`MAIL FROM:<${from}>`);
      expect(r.code, from).toBe(530);
      expect(r.text).toMatch(/^5\.7\.0 /);
      const rcpt = await c.command('RCPT TO:<victim@example.org>');
      expect(rcpt.code).toBeGreaterThanOrEqual(500);
      c.close();
    }
    expect(spooledEnvelopes(relay.dataDir)).toEqual([]);
  });

  it('refuses AUTH before TLS (538) when the client network is not exempt', async () => {
    const c = await dialogue(relay.smtpPort);
    const r = await c.command(`AUTH PLAIN ${Buffer.from('\0mailcow\0s3cret-mailcow').toString('base64')}`);
    expect(r.code).toBe(538);
    c.close();
  });

  it('answers 535 5.7.8 to wrong credentials and accepts the right ones over STARTTLS', async () => {
    const bad = transport(relay.smtpPort, { auth: { user: 'mailcow', pass: 'wrong' }, requireTLS: true });
    await expect(bad.sendMail({ from: 'a@laruche.example', to: 'b@example.org', text: 'x' })).rejects.toMatchObject({ responseCode: 535, response: expect.stringMatching(/^535 5\.7\.8 /) });
    const good = transport(relay.smtpPort, { auth: { user: 'mailcow', pass: 's3cret-mailcow' }, requireTLS: true });
    const info = await good.sendMail({ from: 'a@laruche.example', to: 'b@example.org', text: 'x' });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
    const env = spooledEnvelopes(relay.dataDir)[0]!;
    expect(env.client.name).toBe('mailcow');
    expect(env.client.tls).toBe(true);
    expect(spooledBody(relay.dataDir, env.id)).toMatch(/with ESMTPSA id/);
  });

  it('AUTH LOGIN uses the Username:/Password: prompts Listmonk (Go net/smtp) expects', async () => {
    const c = await dialogue(relay.smtpPort);
    await c.starttls();
    await c.command('EHLO client.test');
    const u = await c.command('AUTH LOGIN');
    expect(u.code).toBe(334);
    expect(Buffer.from(u.text, 'base64').toString()).toBe('Username:');
    const p = await c.command(Buffer.from('mailcow').toString('base64'));
    expect(Buffer.from(p.text, 'base64').toString()).toBe('Password:');
    expect((await c.command(Buffer.from('s3cret-mailcow').toString('base64'))).code).toBe(235);
    c.close();
  });
});

describe('configuration errors and reload', () => {
  it('fails at start naming the bad key', async () => {
    const dir = tempDir();
    const file = writeYaml(dir, 'smtp:\n  max_recipients: lots\n');
    await expect(startRelay({ configFile: file })).rejects.toThrow(/smtp\.max_recipients: must be an integer/);
    await expect(startRelay({ env: { RELAIS_SMTP_LISTEN: 'nowhere' } })).rejects.toThrow(/smtp\.listen: missing port/);
    await expect(startRelay({ env: { RELAIS_QUEUE_LIFETIME: 'five days' } })).rejects.toThrow(/queue\.lifetime: must be a duration/);
  });

  it('SIGHUP reloads the YAML; a bad file is refused and the old one kept', async () => {
    const dir = tempDir();
    const file = writeYaml(dir, `clients:\n  - name: local\n    networks: [127.0.0.1/32]\n    tenants: ["*"]\n`);
    const relay = await startRelay({ configFile: file });
    try {
      writeYaml(dir, 'clients: [oops\n');
      relay.child.kill('SIGHUP');
      const refused = await relay.waitForLog((e) => String(e.msg).startsWith('configuration reload refused'));
      expect(String(refused.reason)).toMatch(/not valid YAML/);
      let c = await dialogue(relay.smtpPort);
      expect((await c.command('MAIL FROM:<a@laruche.example>')).code).toBe(250);
      c.close();
      writeYaml(dir, `clients:\n  - name: other\n    networks: [10.9.9.0/24]\n    tenants: ["*"]\n`);
      relay.child.kill('SIGHUP');
      await relay.waitForLog((e) => e.msg === 'configuration reloaded');
      c = await dialogue(relay.smtpPort);
      expect((await c.command('MAIL FROM:<a@laruche.example>')).code).toBe(530);
      c.close();
    } finally {
      await relay.stop();
    }
  });
});
