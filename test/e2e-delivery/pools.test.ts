/**
 * Outbound identity per listener: mail received on a listener bound to a pool leaves from the
 * pool's source address with the pool's EHLO name; other mail from the default identity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { transport } from '../helpers/mail.js';
import { startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { freePort, waitFor } from '../delivery/helpers.js';

interface Seen {
  ip: string;
  helo: string;
  subject: string;
}

describe('outbound identity (IP pools)', () => {
  let relay: RelayProcess;
  let mx: SMTPServer;
  const seen: Seen[] = [];

  beforeAll(async () => {
    mx = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, cb) {
        let data = '';
        stream.on('data', (c: Buffer) => (data += c.toString()));
        stream.on('end', () => {
          seen.push({ ip: session.remoteAddress.replace(/^::ffff:/, ''), helo: session.hostNameAppearsAs, subject: /^Subject: (.*)$/m.exec(data)?.[1] ?? '' });
          cb();
        });
      },
    });
    await new Promise<void>((r) => mx.listen(0, '127.0.0.1', r));
    const mxPort = (mx.server.address() as { port: number }).port;
    const newsletterPort = await freePort();
    const config = writeYaml(
      tempDir(),
      `smtp:
  listeners:
    - name: newsletters
      listen: 127.0.0.1:${newsletterPort}
      pool: lettres
delivery:
  ehlo_name: sortie.relais.test
  pools:
    lettres:
      ehlo_name: lettres.relais.test
      local_addresses: [127.0.0.9]
`,
    );
    relay = await startRelay({ configFile: config, env: { RELAIS_SMARTHOST: `127.0.0.1:${mxPort}`, RELAIS_SMARTHOST_TLS: 'none' } });
    expect(relay.smtpPorts).toContain(newsletterPort);
  });

  afterAll(async () => {
    await relay?.stop();
    await new Promise<void>((r) => mx.close(() => r()));
  });

  it('uses the pool of the listener the mail came in on', async () => {
    const [main, letters] = relay.smtpPorts;
    await transport(main!).sendMail({ from: 'a@laruche.example', to: 'b@example.org', subject: 'par-defaut', text: 'x' });
    await transport(letters!).sendMail({ from: 'a@laruche.example', to: 'b@example.org', subject: 'infolettre', text: 'x' });
    await waitFor(() => seen.length >= 2, 'two deliveries');
    const bySubject = Object.fromEntries(seen.map((s) => [s.subject, s]));
    expect(bySubject['infolettre']).toMatchObject({ ip: '127.0.0.9', helo: 'lettres.relais.test' });
    expect(bySubject['par-defaut']?.helo).toBe('sortie.relais.test');
    expect(bySubject['par-defaut']?.ip).not.toBe('127.0.0.9');
  });

  it('refuses a listener bound to an unknown pool, naming the key', async () => {
    const bad = writeYaml(tempDir(), 'smtp:\n  listeners:\n    - { name: x, listen: "127.0.0.1:0", pool: nulle-part }\n');
    await expect(startRelay({ configFile: bad })).rejects.toThrow(/smtp\.listeners \(x\)\.pool: unknown pool "nulle-part"/);
  });
});
