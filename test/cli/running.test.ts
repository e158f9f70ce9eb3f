/**
 * The admin commands against a running relay: they find it through the data dir's lock file and
 * go through its HTTP API, with a short-lived token minted in the shared store (or a given one).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { transport } from '../helpers/mail.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { expectOneLineError, ok, okJson, relais } from './run-cli.js';

/** Accepted mail stays queued: deliveries go to a closed port and are retried an hour later. */
const NO_DELIVERY = { RELAIS_SMARTHOST: '127.0.0.1:9', RELAIS_QUEUE_RETRY_FIRST: '1h' };
const PUBLIC_IP = '203.0.113.10';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('relais admin commands with a relay running on the data dir', () => {
  let relay: RelayProcess;
  let dns: TestDnsServer;
  let env: Record<string, string>;
  let adminToken: string;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${relay.apiPort}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${adminToken}`, ...(init.headers ?? {}) } });

  beforeAll(async () => {
    dns = await startDnsServer({
      'laruche.example': { TXT: [`v=spf1 ip4:${PUBLIC_IP} -all`], MX: [{ exchange: 'mx.laruche.example', priority: 10 }] },
      'mx.laruche.example': { A: ['198.51.100.1'] },
      '_dmarc.laruche.example': { TXT: ['v=DMARC1; p=quarantine; rua=mailto:dmarc@laruche.example'] },
    });
    relay = await startRelay({ env: { ...NO_DELIVERY, RELAIS_DNS_SERVERS: dns.server, RELAIS_PUBLIC_IPS: PUBLIC_IP, RELAIS_HOSTNAME: 'relais.test' } });
    env = { RELAIS_DATA_DIR: relay.dataDir, RELAIS_DNS_SERVERS: dns.server };
  });
  afterAll(async () => {
    await relay?.stop();
    await dns?.close();
  });

  it('token create: the token works against the relay (/whoami); minted CLI tokens are revoked after use', async () => {
    const r = await okJson(['token', 'create', '--name', 'admin-test', '--scope', 'admin'], env);
    adminToken = r.token;
    const who = await api('/whoami');
    expect(who.status).toBe(200);
    expect(await who.json()).toEqual({ name: 'admin-test', admin: true });
    const names = ((await (await api('/tokens')).json()) as Array<{ name: string }>).map((t) => t.name).sort();
    expect(names).toEqual(['admin-test', 'first-admin']);
  });

  it('a tenant added by the CLI is visible through the API; unknown tenant is a one-line error', async () => {
    await ok(['tenant', 'add', 'la-ruche', '--domain', 'laruche.example', '--name', 'La Ruche'], env);
    const t = await (await api('/tenants/la-ruche')).json();
    expect(t).toMatchObject({ id: 'la-ruche', name: 'La Ruche', domains: ['laruche.example'], source: 'store' });
    const r = await relais(['tenant', 'show', 'personne'], env);
    expect(r.code).toBe(1);
    expect(expectOneLineError(r)).toBe('relais: Locataire personne inconnu / Unknown tenant personne');
  });

  it('quota set through the relay changes the limit the relay enforces and reports', async () => {
    await ok(['quota', 'set', 'la-ruche', 'messages_per_hour=7'], env);
    const q = await (await api('/quotas/la-ruche')).json();
    expect(q.limits).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'messages_per_hour', scope: 'smtp', limit: 7, override: true })]));
    expect(await ok(['quota', 'show', 'la-ruche'], env)).toMatch(/messages_per_hour\s+smtp\s+tenant la-ruche\s+0\s+7\s/);
  });

  it('queue list / show / hold / release / delete a message sent by SMTP', async () => {
    const info = await transport(relay.smtpPort).sendMail({ from: 'alice@laruche.example', to: ['bob@example.org', 'carol@example.net'], subject: 'Ordre du jour', text: 'Bonjour' });
    const id = /queued as ([0-9A-Z]{16})/.exec(info.response)![1]!;
    const list = await ok(['queue', 'list'], env);
    expect(list).toMatch(new RegExp(`^${id}\\s+(active|deferred)\\s+alice@laruche\\.example\\s+2\\s`, 'm'));
    expect(list).toMatch(/1 message\(s\)/);
    const shown = await okJson(['queue', 'show', id], env);
    expect(shown).toMatchObject({ id, from: 'alice@laruche.example', tenant: 'la-ruche', subject: 'Ordre du jour' });
    expect(await ok(['queue', 'show', id], env)).toMatch(new RegExp(`^id: ${id}$`, 'm'));
    // Attempt and reply times read as dates (epoch milliseconds stay in --json and the API).
    for (let i = 0; i < 100 && !(await okJson(['queue', 'show', id], env)).attempts.length; i++) await new Promise((r) => setTimeout(r, 100));
    const yaml = await ok(['queue', 'show', id], env);
    expect(yaml).toMatch(/^\s+(- )?at: '?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z'?$/m);
    expect(yaml).not.toMatch(/^\s+(- )?at: \d{13}$/m);

    expect(await ok(['queue', 'hold', id], env)).toBe(`${id} held\n`);
    expect((await okJson(['queue', 'list', '--state', 'hold'], env)).items.map((i: { id: string }) => i.id)).toEqual([id]);
    expect(await ok(['queue', 'release', '--all', '--state', 'hold'], env)).toBe('1 of 1 message(s) released\n');
    expect((await okJson(['queue', 'list', '--sender', 'alice@laruche.example'], env)).items[0].state).not.toBe('hold');

    const missing = await relais(['queue', 'show', 'AAAAAAAAAAAAAAAA'], env);
    expect(expectOneLineError(missing)).toMatch(/not queued/);
    expect(expectOneLineError(await relais(['queue', 'retry'], env))).toMatch(/give message ids or --all/);

    expect(await ok(['queue', 'delete', id], env)).toBe(`${id} deleted\n`);
    expect(await ok(['queue', 'list'], env)).toMatch(/\(queue empty\)/);
  });

  it('dkim generate prints the TXT record; domain check fails (exit 2) until it is published', async () => {
    const g = await okJson(['dkim', 'generate', 'laruche.example', '--selector', 'rel1'], env);
    expect(g.dns).toMatchObject({ name: 'rel1._domainkey.laruche.example', type: 'TXT' });
    expect(g.dns.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+={0,2}$/);

    const before = await relais(['domain', 'check', 'laruche.example'], env);
    expect(before.code).toBe(2);
    expect(before.stdout).toMatch(/^ {2}FAIL {2}dkim /m);
    expect(before.stdout).toMatch(/^ {2}PASS {2}spf /m);
    expect(before.stdout).toMatch(/^ {8}fr: Publiez l'enregistrement TXT rel1\._domainkey\.laruche\.example/m);
    expect(before.stdout).toMatch(/^ {8}en: Publish the TXT record rel1\._domainkey\.laruche\.example/m);
    expect(before.stdout).toMatch(/\d pass, \d warn, [1-9] fail\n$/);

    dns.zones['rel1._domainkey.laruche.example'] = { TXT: [g.dns.value] };
    const after = await relais(['domain', 'check', 'laruche.example', '--json'], env);
    expect(after.code).toBe(0);
    const findings = JSON.parse(after.stdout).findings as Array<{ check: string; status: string }>;
    expect(findings.find((f) => f.check === 'dkim')!.status).toBe('pass');
    expect(findings.some((f) => f.status === 'fail')).toBe(false);
  });

  it('stats prints a table per provider', async () => {
    // Within stats.retention_days: older ranges are refused (400 naming `from`).
    const from = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
    const out = await ok(['stats', '--from', from, '--tenant', 'la-ruche'], env);
    expect(out).toMatch(new RegExp(`^${from}T00:00:00\\.000Z → \\S+ \\(tenant la-ruche\\)\\n`));
    expect(expectOneLineError(await relais(['stats', '--from', '2020-01-01'], env))).toMatch(/from/);
    expect(out).toMatch(/^PROVIDER\s+SENT\s+DELIVERED\s+DEFERRED\s+BOUNCED\s+TOP REASON$|\(nothing sent in this period\)/m);
    expect(expectOneLineError(await relais(['stats', '--from', 'hier'], env))).toMatch(/--from: expected a date/);
  });

  it('shaping list / clear: nothing restricted yet; a provider name is checked', async () => {
    expect(await ok(['shaping', 'list'], env)).toBe('(no provider restricted)\n');
    expect(await okJson(['shaping', 'list'], env)).toEqual({ node: 'relais.test', running: true, restrictions: [], warmups: [] });
    expect(await ok(['shaping', 'clear', 'google', '--pool', 'default'], env)).toBe('google: no restriction in force\n');
    expect(expectOneLineError(await relais(['shaping', 'clear', 'Google Mail'], env))).toMatch(/^relais: params\/provider must match pattern/);
    const tenant = await okJson(['token', 'create', '--name', 'ruche-reader', '--scope', 'tenant:la-ruche'], env);
    expect((await fetch(`http://127.0.0.1:${relay.apiPort}/api/v1/delivery/shaping`, { headers: { authorization: `Bearer ${tenant.token}` } })).status).toBe(403);
    // The route takes no parameter: an unknown one is refused, as on every other route.
    expect((await fetch(`http://127.0.0.1:${relay.apiPort}/api/v1/delivery/shaping?pool=x`, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(400);
  });

  it('--api and --token (or RELAIS_API_URL / RELAIS_API_TOKEN) select the relay and the token', async () => {
    const url = `http://127.0.0.1:${relay.apiPort}`;
    // Another data dir: only the explicit URL leads to the relay.
    const other = { RELAIS_DATA_DIR: `${relay.dataDir}-nowhere` };
    expect((await okJson(['tenant', 'list', '--api', url, '--token', adminToken], other)).items.map((t: { id: string }) => t.id)).toEqual(['la-ruche']);
    expect((await okJson(['tenant', 'list'], { ...other, RELAIS_API_URL: url, RELAIS_API_TOKEN: adminToken })).items).toHaveLength(1);
    const bad = await relais(['tenant', 'list', '--api', url, '--token', 'rls_000000000000_' + 'x'.repeat(43)], other);
    expect(expectOneLineError(bad)).toBe('relais: Jeton invalide / Invalid token');
    const foreign = await relais(['tenant', 'list', '--api', url], other);
    expect(expectOneLineError(foreign)).toMatch(/does not share this data dir's store, so a local token is refused: give --token or RELAIS_API_TOKEN$/);
    const closed = await closedPort();
    const down = await relais(['tenant', 'list', '--api', `http://127.0.0.1:${closed}`, '--token', adminToken], other);
    expect(expectOneLineError(down)).toBe(`relais: cannot reach the admin API at http://127.0.0.1:${closed}: ECONNREFUSED`);
  });

  it('no CLI token is left behind, and the same commands work offline once the relay stops', async () => {
    const tokens = (await (await api('/tokens')).json()) as Array<{ name: string }>;
    expect(tokens.filter((t) => t.name.startsWith('cli-'))).toEqual([]);
    await transport(relay.smtpPort).sendMail({ from: 'alice@laruche.example', to: 'dora@example.org', subject: 'Plus tard', text: 'x' });
    await relay.stop();
    const list = await okJson(['queue', 'list'], env);
    expect(list.items.map((i: { from: string; subject: string }) => [i.from, i.subject])).toEqual([['alice@laruche.example', 'Plus tard']]);
    expect((await okJson(['tenant', 'show', 'la-ruche'], env)).name).toBe('La Ruche');
    expect((await okJson(['dkim', 'list'], env)).items.map((k: { selector: string }) => k.selector)).toEqual(['rel1']);
    expect(await ok(['shaping', 'list'], env)).toMatch(/^\(no relay running: nothing is shaped\)\n/);
    expect(expectOneLineError(await relais(['shaping', 'clear', 'google'], env))).toBe('relais: Aucun relais en marche : rien n\'est restreint / No relay running: nothing is restricted');
  });
});

describe('relais admin commands with a relay on a shared Redis store', () => {
  let relay: RelayProcess;
  let env: Record<string, string>;
  beforeAll(async () => {
    const redis = { RELAIS_REDIS_URL: 'redis://127.0.0.1:6379', RELAIS_STORE_PREFIX: `test-cli-${randomBytes(4).toString('hex')}:` };
    relay = await startRelay({ env: { ...NO_DELIVERY, ...redis } });
    env = { RELAIS_DATA_DIR: relay.dataDir, ...redis };
  });
  afterAll(async () => {
    await relay?.stop();
  });

  it('mints its token in Redis, works through the API, and revokes the token', async () => {
    await ok(['tenant', 'add', 'atelier', '--domain', 'atelier.example'], env);
    await ok(['client', 'add', 'listmonk', '--tenant', 'atelier', '--newsletter', '--no-auth', '--network', '192.0.2.0/24'], env);
    const clients = await okJson(['client', 'list'], env);
    expect(clients.items.find((c: { name: string }) => c.name === 'listmonk')).toMatchObject({ newsletter: true, has_password: false, networks: ['192.0.2.0/24'] });
    const tokens = await okJson(['token', 'list'], env);
    // Only the first admin token and the one this very command uses.
    expect(tokens.map((t: { name: string }) => t.name).sort()).toEqual(['cli-' + tokens.find((t: { name: string }) => t.name.startsWith('cli-')).name.slice(4), 'first-admin'].sort());
    const after = await okJson(['token', 'list'], env);
    expect(after.filter((t: { name: string }) => t.name.startsWith('cli-'))).toHaveLength(1);
    expect(after.find((t: { name: string }) => t.name.startsWith('cli-')).id).not.toBe(tokens.find((t: { name: string }) => t.name.startsWith('cli-')).id);
  });
});
