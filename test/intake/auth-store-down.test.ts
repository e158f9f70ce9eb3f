/**
 * AUTH while the shared store is unreachable: known credentials still work from the last known
 * directory, and a refusal becomes a temporary 454 4.7.0, never 535 (Postfix would bounce the
 * mail on 535: Mailcow sets smtp_sasl_auth_soft_bounce = no).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { CLI, startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { freePort } from '../delivery/helpers.js';

const hash = (pw: string) => execFileSync(process.execPath, [CLI, 'hash-password'], { input: pw }).toString().trim();
const plain = (u: string, p: string) => Buffer.from(`\0${u}\0${p}`).toString('base64');

describe('AUTH with the store down', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    const config = writeYaml(tempDir(), `clients:\n  - name: mailcow\n    password_hash: "${hash('bon-mot-de-passe')}"\n    tenants: ["*"]\n`);
    relay = await startRelay({ configFile: config, env: { RELAIS_REDIS_URL: `redis://127.0.0.1:${await freePort()}`, RELAIS_SMARTHOST: '127.0.0.1:9' } });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  it('answers 454 4.7.0 to credentials it cannot verify, and accepts the known ones', async () => {
    const c = await RawSmtp.connect(relay.smtpPort);
    await c.reply();
    await c.command('EHLO mailcow.test');
    const unknown = await c.command(`AUTH PLAIN ${plain('inconnu', 'x')}`);
    expect(unknown.code).toBe(454);
    expect(unknown.text).toMatch(/^4\.7\.0 /);
    const wrong = await c.command(`AUTH PLAIN ${plain('mailcow', 'mauvais')}`);
    expect(wrong.code).toBe(454);
    const ok = await c.command(`AUTH PLAIN ${plain('mailcow', 'bon-mot-de-passe')}`);
    expect(ok.code).toBe(235);
    c.close();
  });
});
