/**
 * The admin commands with no relay running: services are opened in-process on the data dir,
 * and the effects are what a relay started afterwards sees.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { expectOneLineError, ok, okJson, relais } from './run-cli.js';

const MASTER_KEY = 'cle-maitre-de-test-0123456789abcdef';

describe('relais admin commands, no relay running', () => {
  let env: Record<string, string>;
  let dir: string;
  beforeAll(() => {
    dir = tempDir('relais-cli-');
    env = { RELAIS_DATA_DIR: join(dir, 'data') };
  });

  it('tenant add / list / show, and one-line errors', async () => {
    expect(await ok(['tenant', 'add', 'la-ruche', '--domain', 'laruche.example', '--domain', 'ruche.example', '--name', 'La Ruche', '--limits-json', '{"mailbox":{"messages_per_hour":100}}'], env)).toMatch(/tenant la-ruche created/);
    const list = await ok(['tenant', 'list'], env);
    expect(list).toMatch(/^ID\s+NAME\s+DOMAINS/);
    expect(list).toMatch(/la-ruche\s+La Ruche\s+laruche\.example,ruche\.example/);
    const shown = await okJson(['tenant', 'show', 'la-ruche'], env);
    expect(shown).toMatchObject({ id: 'la-ruche', name: 'La Ruche', domains: ['laruche.example', 'ruche.example'], limits: { mailbox: { messages_per_hour: 100 } } });
    expect(await ok(['tenant', 'show', 'la-ruche'], env)).toMatch(/^id: la-ruche\nname: La Ruche\n/);

    const unknown = await relais(['tenant', 'show', 'inconnu'], env);
    expect(unknown.code).toBe(1);
    expect(expectOneLineError(unknown)).toBe('relais: Locataire inconnu inconnu / Unknown tenant inconnu');
    const dup = await relais(['tenant', 'add', 'la-ruche', '--domain', 'x.example'], env);
    expect(expectOneLineError(dup)).toMatch(/already exists/);
    const badJson = await relais(['tenant', 'add', 'autre', '--domain', 'autre.example', '--limits-json', '{nope'], env);
    expect(expectOneLineError(badJson)).toMatch(/^relais: --limits-json: /);
    const usage = await relais(['tenant', 'add', 'autre'], env);
    expect(expectOneLineError(usage)).toMatch(/--domain/);
    expect(expectOneLineError(await relais(['tenant', 'lst'], env))).toBe("relais: unknown command 'lst' (Did you mean list?)");
  });

  it('client add prints the password once; list never shows it; rotate gives a new one', async () => {
    const added = await ok(['client', 'add', 'mailcow', '--tenant', 'la-ruche', '--network', '10.0.0.0/24'], env);
    const pw = /password .*: (\S+)$/m.exec(added)![1]!;
    expect(pw.length).toBeGreaterThanOrEqual(20);
    const list = await ok(['client', 'list'], env);
    expect(list).toMatch(/mailcow\s+la-ruche\s+10\.0\.0\.0\/24\s+no\s+set\s+enabled/);
    expect(list).not.toContain(pw);
    const rotated = await ok(['client', 'rotate', 'mailcow'], env);
    expect(/password .*: (\S+)$/m.exec(rotated)![1]).not.toBe(pw);
    await ok(['client', 'disable', 'mailcow'], env);
    expect((await okJson(['client', 'list'], env)).items.find((c: { name: string }) => c.name === 'mailcow')).toMatchObject({ disabled: true, has_password: true });
    expect(expectOneLineError(await relais(['client', 'add', 'x', '--tenant', 'nobody'], env))).toMatch(/^relais: .*nobody/);
  });

  it('quota set then show shows the new limit; clear removes the override', async () => {
    const set = await ok(['quota', 'set', 'alice@laruche.example', 'messages_per_hour=200', 'recipients_per_day=1000'], env);
    expect(set).toMatch(/messages_per_hour\s+smtp\s+mailbox alice@laruche\.example\s+0\s+200 .* yes\s*$/m);
    const shown = await okJson(['quota', 'show', 'alice@laruche.example'], env);
    expect(shown.level).toBe('mailbox');
    expect(shown.tenant).toBe('la-ruche');
    expect(shown.limits).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'messages_per_hour', limit: 200, override: true }), expect.objectContaining({ name: 'recipients_per_day', limit: 1000, override: true })]));
    expect(await ok(['quota', 'clear', 'alice@laruche.example'], env)).toMatch(/cleared/);
    const after = await okJson(['quota', 'show', 'alice@laruche.example'], env);
    expect(after.limits.some((l: { limit: number; override: boolean }) => l.limit === 200 || l.override)).toBe(false);
    expect(expectOneLineError(await relais(['quota', 'set', 'alice@laruche.example', 'messages_per_week=3'], env))).toMatch(/unknown limit "messages_per_week"/);
    expect(expectOneLineError(await relais(['quota', 'clear', 'alice@laruche.example'], env))).toMatch(/No override/);
  });

  it('dkim generate without a master key: 0600 file in the data dir, prints the TXT record', async () => {
    const r = await ok(['dkim', 'generate', 'laruche.example', '--selector', 'rel1'], env);
    expect(r).toMatch(/DKIM key rel1 \(rsa\) for laruche\.example: active; private key in a 0600 file/);
    expect(r).toMatch(/^ {2}name: {2}rel1\._domainkey\.laruche\.example$/m);
    expect(r).toMatch(/^ {2}type: {2}TXT$/m);
    expect(r).toMatch(/^ {2}value: v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{300,}={0,2}$/m);
    expect(r).toMatch(/^ {2}rel1\._domainkey\.laruche\.example\. IN TXT \( "v=DKIM1; k=rsa; p=[^"]+" "[^"]+" \)$/m);
    const keyDir = join(env.RELAIS_DATA_DIR!, 'dkim-keys');
    const files = readdirSync(keyDir);
    expect(files).toHaveLength(1);
    expect(statSync(join(keyDir, files[0]!)).mode & 0o777).toBe(0o600);
  });

  it('dkim generate with a master key: encrypted, --stage, then activate; list and dns', async () => {
    const menv = { ...env, RELAIS_DKIM_MASTER_KEY: MASTER_KEY };
    const g = await okJson(['dkim', 'generate', 'laruche.example', '--selector', 'rel2', '--stage'], menv);
    expect(g.key).toMatchObject({ selector: 'rel2', algo: 'rsa', status: 'staged', storage: 'encrypted' });
    expect(g.dns.value).toMatch(/^v=DKIM1; k=rsa; p=/);
    const ed = await ok(['dkim', 'generate', 'laruche.example', '--algo', 'ed25519', '--selector', 'ed1'], menv);
    expect(ed).toMatch(/^ {2}value: v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/m);
    expect(await ok(['dkim', 'activate', 'laruche.example', 'rel2'], menv)).toMatch(/rel2 \(rsa\) for laruche\.example is now active/);
    const list = await okJson(['dkim', 'list', 'laruche.example'], menv);
    expect(Object.fromEntries(list.items.map((k: { selector: string; status: string }) => [k.selector, k.status]))).toEqual({ rel1: 'retired', rel2: 'active', ed1: 'active' });
    expect(await ok(['dkim', 'list'], menv)).toMatch(/laruche\.example\s+rel2\s+rsa\s+active/);
    const dns = await ok(['dkim', 'dns', 'laruche.example'], menv);
    expect(dns.trim().split('\n').map((l) => l.split(' ')[0])).toEqual(expect.arrayContaining(['rel2._domainkey.laruche.example.', 'ed1._domainkey.laruche.example.']));
    expect(dns).not.toContain('rel1._domainkey');
    expect(expectOneLineError(await relais(['dkim', 'generate', 'laruche.example', '--algo', 'dsa'], menv))).toMatch(/--algo: expected rsa or ed25519/);
    expect(expectOneLineError(await relais(['dkim', 'generate', 'laruche.example', '--selector', 'rel2'], menv))).toMatch(/already exists/);
  });

  it('token create offline; the token then works against a relay started on the data dir', async () => {
    const out = await ok(['token', 'create', '--name', 'grafana', '--scope', 'tenant:la-ruche'], env);
    const token = /: (rls_\S+)$/m.exec(out)![1]!;
    expect(out).toMatch(/tenant:la-ruche/);
    const tokens = await okJson(['token', 'list'], env);
    // Offline commands use a one-off in-memory secret: nothing but the created token is stored.
    expect(tokens.map((t: { name: string }) => t.name)).toEqual(['grafana']);
    // The secret is what follows "rls_<12 hex>_" (it may itself contain "_").
    expect(JSON.stringify(tokens)).not.toContain(token.slice('rls_'.length + 12 + 1));

    // The data dir lock was released: a relay can start and sees the offline changes.
    expect(existsSync(join(env.RELAIS_DATA_DIR!, 'relais.lock'))).toBe(false);
    let relay: RelayProcess | undefined;
    try {
      relay = await startRelay({ dataDir: env.RELAIS_DATA_DIR });
      const base = `http://127.0.0.1:${relay.apiPort}/api/v1`;
      const who = await fetch(`${base}/whoami`, { headers: { authorization: `Bearer ${token}` } });
      expect(who.status).toBe(200);
      expect(await who.json()).toEqual({ name: 'grafana', admin: false, tenant: 'la-ruche' });
      const t = await fetch(`${base}/tenants/la-ruche`, { headers: { authorization: `Bearer ${token}` } });
      expect((await t.json()).domains).toEqual(['laruche.example', 'ruche.example']);
    } finally {
      await relay?.stop();
    }
  });

  it('every command reads the YAML file given with --config', async () => {
    const d = tempDir('relais-cli-yaml-');
    const file = writeYaml(d, `data_dir: ${join(d, 'data')}\ntenants:\n  - id: atelier\n    name: L'Atelier\n    domains: [atelier.example]\n`);
    const list = await okJson(['tenant', 'list', '--config', file], {});
    expect(list.items).toEqual([expect.objectContaining({ id: 'atelier', domains: ['atelier.example'], source: 'seed' })]);
    expect(await ok(['domain', 'list', '-c', file], {})).toMatch(/atelier\.example\s+atelier/);
    expect(await ok(['queue', 'list', '--config', file], {})).toMatch(/\(queue empty\)\n0 message\(s\)/);
    expect(await ok(['stats', '--config', file], {})).toMatch(/\(nothing sent in this period\)/);
  });

  it('relais config check fails naming the key of a bad value', async () => {
    const r = await relais(['config', 'check'], { ...env, RELAIS_MAX_RECIPIENTS: 'beaucoup' });
    expect(r.code).toBe(78);
    expect(expectOneLineError(r)).toMatch(/^relais: configuration error: smtp\.max_recipients: /);
    const d = tempDir('relais-cli-bad-');
    const file = writeYaml(d, `data_dir: ${join(d, 'data')}\nqueue:\n  retry_frist: 5m\n`);
    const y = await relais(['tenant', 'list', '--config', file], {});
    expect(y.code).toBe(78);
    expect(expectOneLineError(y)).toMatch(/queue\.retry_frist: unknown key/);
    expect(await ok(['config', 'check'], env)).toMatch(/configuration OK/);
  });

  it('a warm-up naming no provider of providers.yaml is refused (config check, and start or any command that opens the services), not silently ignored', async () => {
    const d = tempDir('relais-cli-warmup-');
    const pool = (providers: string) => `data_dir: ${join(d, 'data')}\ndelivery:\n  pools:\n    neuve:\n      local_addresses: [127.0.0.1]\n      warmup: { start: 2026-12-01, providers: [${providers}] }\n`;
    const bad = writeYaml(d, pool('google, gmail'));
    for (const args of [['config', 'check'], ['tenant', 'list']]) {
      const r = await relais([...args, '--config', bad], {});
      expect(r.code, args.join(' ')).toBe(78);
      expect(expectOneLineError(r)).toMatch(/^relais: configuration error: delivery\.pools\.neuve\.warmup\.providers: "gmail" is not a provider id of providers\.yaml \(.*google/);
    }
    expect(await ok(['config', 'check', '--config', writeYaml(d, pool('google, microsoft'))], {})).toMatch(/configuration OK/);
  });
});
