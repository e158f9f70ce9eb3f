/**
 * AUTH against an exposed relay, as an attacker tries it (issue 18): guesses are counted per
 * connection (closed after 3), per client address (421 4.7.0 for the cooling-off, without
 * checking the password) and per user name (refused from new addresses, never from the one the
 * real client authenticates from). AUTH is advertised only where it may be used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { CLI, startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';

const hash = (pw: string) => execFileSync(process.execPath, [CLI, 'hash-password'], { input: pw }).toString().trim();
const plain = (u: string, p: string) => `AUTH PLAIN ${Buffer.from(`\0${u}\0${p}`).toString('base64')}`;

let relay: RelayProcess;

/** A session from `from` (a loopback address), after STARTTLS and a second EHLO. */
async function secured(from: string): Promise<RawSmtp> {
  const c = await RawSmtp.connect(relay.smtpPort, '127.0.0.1', from);
  expect((await c.reply()).code).toBe(220);
  expect((await c.command('EHLO client.test')).code).toBe(250);
  await c.starttls();
  expect((await c.command('EHLO client.test')).code).toBe(250);
  return c;
}

beforeAll(async () => {
  const file = writeYaml(
    tempDir(),
    `clients:
  - name: mailcow
    password_hash: "${hash('s3cret-mailcow')}"
    tenants: ["*"]
smtp:
  insecure_auth_networks: [127.0.0.9/32]
  auth_failures_per_user: 10
`,
  );
  relay = await startRelay({ configFile: file, env: { RELAIS_SMARTHOST: '127.0.0.1:9', RELAIS_QUEUE_RETRY_FIRST: '1h' } });
});
afterAll(async () => {
  await relay?.stop();
});

describe('AUTH advertising', () => {
  it('leaves AUTH out of EHLO before STARTTLS where it needs TLS, offers it after, and in clear to exempt networks', async () => {
    const c = await RawSmtp.connect(relay.smtpPort, '127.0.0.1', '127.0.0.5');
    await c.reply();
    const before = await c.command('EHLO client.test');
    expect(before.text).toContain('STARTTLS');
    expect(before.text).not.toContain('AUTH');
    expect((await c.command(plain('mailcow', 's3cret-mailcow'))).code).toBe(538);
    await c.starttls();
    expect((await c.command('EHLO client.test')).text).toContain('AUTH PLAIN LOGIN');
    c.close();
    const exempt = await RawSmtp.connect(relay.smtpPort, '127.0.0.1', '127.0.0.9');
    await exempt.reply();
    expect((await exempt.command('EHLO client.test')).text).toContain('AUTH PLAIN LOGIN');
    exempt.close();
  });
});

describe('AUTH failures', () => {
  it('closes a connection after 3 failures (421 4.7.0)', async () => {
    const c = await secured('127.0.0.6');
    expect((await c.command(plain('mailcow', 'essai1'))).code).toBe(535);
    expect((await c.command(plain('inconnu', 'essai2'))).code).toBe(535);
    const third = await c.command(plain('mailcow', 'essai3'));
    expect(third.code).toBe(421);
    expect(third.text).toMatch(/^4\.7\.0 .*Too many authentication failures, closing connection/);
    await expect(c.reply(3000)).rejects.toThrow(/closed/);
  });

  it('40 guesses then the right password: the address is blocked at the 10th failure, other addresses and the real client keep working', async () => {
    // The real client has authenticated from its address before the attack.
    const mailcow = await secured('127.0.0.1');
    expect((await mailcow.command(plain('mailcow', 's3cret-mailcow'))).code).toBe(235);
    mailcow.close();

    const answers: number[] = [];
    let blockedText = '';
    for (let guess = 0; guess < 40 && !blockedText; ) {
      const c = await secured('127.0.0.2');
      for (let i = 0; i < 3; i++, guess++) {
        const r = await c.command(plain('mailcow', `essai-${guess}`));
        answers.push(r.code);
        if (r.code === 421) {
          if (/address/.test(r.text)) blockedText = r.text;
          break;
        }
      }
      c.close();
    }
    expect(answers).toEqual([535, 535, 421, 535, 535, 421, 535, 535, 421, 421]);
    expect(blockedText).toMatch(/^4\.7\.0 .*Too many authentication failures from this address, try again in 15 min/);
    // The right password from the blocked address: refused, connection closed.
    const late = await secured('127.0.0.2');
    const r = await late.command(plain('mailcow', 's3cret-mailcow'));
    expect(r.code).toBe(421);
    await expect(late.reply(3000)).rejects.toThrow(/closed/);

    // The real client, from its usual address: still accepted.
    const again = await secured('127.0.0.1');
    expect((await again.command(plain('mailcow', 's3cret-mailcow'))).code).toBe(235);
    expect((await again.command('MAIL FROM:<a@laruche.example>')).code).toBe(250);
    again.close();

    // The guessed user name (10 failures) is refused, temporarily, from an address it never used.
    const fresh = await secured('127.0.0.3');
    const locked = await fresh.command(plain('mailcow', 's3cret-mailcow'));
    expect(locked.code).toBe(454);
    expect(locked.text).toMatch(/^4\.7\.0 /);
    fresh.close();

    const metrics = await (await fetch(`http://127.0.0.1:${relay.apiPort}/metrics`)).text();
    for (const result of ['ok', 'failed', 'address_blocked', 'user_locked', 'connection_closed']) expect(metrics).toMatch(new RegExp(`relais_smtp_auth_total\\{result="${result}"\\} [1-9]`));

    const logs = relay.logs.join('\n');
    expect(logs).toContain('address blocked');
    expect(logs).not.toContain('s3cret-mailcow');
  });
});
