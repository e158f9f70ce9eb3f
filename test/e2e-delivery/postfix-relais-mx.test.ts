/**
 * End to end, as on the exit node: a Mailcow-like Postfix relays to Relais (STARTTLS + AUTH),
 * Relais looks up the recipients' MX through a real DNS server and delivers to test MXs. The
 * delivered bytes are the submitted ones plus headers prepended at the top (Postfix's and
 * Relais's Received): nothing in the original message is changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { transport } from '../helpers/mail.js';
import { CLI, startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { startMailcowLikePostfix, type PostfixInstance } from '../helpers/postfix.js';
import { spooledEnvelopes, spoolFileCount } from '../helpers/spool-files.js';
import { freePort, startMx, waitFor, type TestMx } from '../delivery/helpers.js';

const hash = (pw: string) => execFileSync(process.execPath, [CLI, 'hash-password'], { input: pw }).toString().trim();
const CRLF = '\r\n';

describe('Postfix → Relais → MX', () => {
  let dns: TestDnsServer;
  let relay: RelayProcess;
  let postfix: PostfixInstance;
  const mxs: TestMx[] = [];

  beforeAll(async () => {
    const port = await freePort();
    mxs.push(await startMx('127.0.0.21', port), await startMx('127.0.0.22', port));
    dns = await startDnsServer({
      'example.org': { MX: [{ exchange: 'mx1.example.org', priority: 10 }] },
      'mx1.example.org': { A: ['127.0.0.21'] },
      'example.net': { MX: [{ exchange: 'mx.example.net', priority: 5 }] },
      'mx.example.net': { A: ['127.0.0.22'] },
    });
    const config = writeYaml(
      tempDir(),
      `clients:
  - name: mailcow
    password_hash: "${hash('Mailcow-relay-pw')}"
    tenants: [la-ruche]
tenants:
  - id: la-ruche
    domains: [laruche.example]
smtp:
  insecure_auth_networks: []
`,
    );
    relay = await startRelay({
      configFile: config,
      env: { RELAIS_HOSTNAME: 'relais.test', RELAIS_DNS_SERVERS: dns.server, RELAIS_ALLOW_PRIVATE_MX: '1', RELAIS_MX_PORT: String(port) },
    });
    postfix = await startMailcowLikePostfix({ relaisPort: relay.smtpPort, credentials: { relayhost: 'mailcow:Mailcow-relay-pw' } });
  });

  afterAll(async () => {
    await postfix?.stop();
    await relay?.stop();
    for (const m of mxs) await m.close();
    await dns?.close();
  });

  it('delivers the submitted bytes unchanged, one transaction per destination domain', async () => {
    const raw = [
      'From: Alice <alice@laruche.example>',
      'To: bob@example.org, carol@example.net, dave@example.org',
      'Subject: =?UTF-8?Q?R=C3=A9union_de_d=C3=A9cembre?=',
      'Date: Tue, 25 Nov 2025 10:00:00 +0100',
      'Message-ID: <e2e.1@laruche.example>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Bonjour à tous,',
      '.une ligne qui commence par un point',
      '',
      '-- ',
      'Alice',
      '',
    ].join(CRLF);
    await transport(postfix.port).sendMail({ envelope: { from: 'alice@laruche.example', to: ['bob@example.org', 'carol@example.net', 'dave@example.org'] }, raw });
    await waitFor(() => mxs[0]!.received.length >= 1 && mxs[1]!.received.length >= 1, 'delivery to both MXs', 30_000);
    const [org] = mxs[0]!.received;
    const [net] = mxs[1]!.received;
    expect(org!.from).toBe('alice@laruche.example');
    expect(org!.to.sort()).toEqual(['bob@example.org', 'dave@example.org']);
    expect(net!.to).toEqual(['carol@example.net']);
    for (const m of [org!, net!]) {
      const bytes = m.raw;
      expect(bytes.subarray(bytes.length - Buffer.byteLength(raw)).equals(Buffer.from(raw))).toBe(true);
      const prepended = bytes.subarray(0, bytes.length - Buffer.byteLength(raw)).toString('utf8');
      // Only trace headers were added above the original ones: Relais's Received, then Postfix's.
      expect(prepended).toMatch(/^Received: from mailcow\.test [^\r]*(\r\n\t[^\r]*)*\r\n\tby relais\.test \(Relais\) with ESMTPSA id /);
      const names = prepended.split(CRLF).filter((l) => /^[A-Za-z-]+:/.test(l)).map((l) => l.slice(0, l.indexOf(':')));
      expect(new Set(names)).toEqual(new Set(['Received']));
    }
    // Fully delivered messages leave the queue (body and envelope).
    await waitFor(() => spooledEnvelopes(relay.dataDir).length === 0 && spoolFileCount(relay.dataDir, 'messages') === 0, 'empty spool');
  });
});
