/**
 * The Listmonk bridge against a Listmonk v6.2 stand-in whose API user has a role, not Super Admin.
 * With one permission missing: the bulk message still gets the friendly 550 with the URL,
 * `relais listmonk check` names the permission and exits 2, the job shows `failed` with it (and its
 * jobId, decoded subject and fix) and is not retried; after the admin fixes the role,
 * `relais listmonk retry JOB` makes exactly one draft.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requiredPermissions } from '../../listmonk-bridge/check.js';
import { startFakeListmonk, type FakeListmonk } from '../listmonk/listmonk-server.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { relais } from '../cli/run-cli.js';
import { ADMIN_TOKEN, PUBLIC_URL, api, clientYaml, dialogue, listmonkYaml, sleep, startE2eRelay, transaction, waitUntil, type Creds } from './helpers.js';

const ROLE = requiredPermissions(6).filter((p) => !p.importOnly).map((p) => p.perm);

describe('a Listmonk API user whose role misses campaigns:manage_all', () => {
  let lm: FakeListmonk;
  let relay: RelayProcess;
  let mailcow: Creds;
  let cli: (args: string[]) => ReturnType<typeof relais>;

  beforeAll(async () => {
    lm = await startFakeListmonk({ version: 'v6.2', permissions: ROLE.filter((p) => p !== 'campaigns:manage_all') });
    const client = await clientYaml('mailcow', { tenants: ['laruche'] });
    mailcow = client.creds;
    relay = await startE2eRelay(
      ['tenants:', '  - id: laruche', '    domains: [laruche.example]', '    bulk: { recipients_per_message: 5, action: redirect }', `    listmonk: ${listmonkYaml(lm)}`, 'clients:', client.yaml].join('\n'),
      { RELAIS_SMARTHOST: '127.0.0.1:9', RELAIS_QUEUE_RETRY_FIRST: '1h' },
    );
    cli = (args) => relais([...args, '--api', `http://127.0.0.1:${relay.apiPort}`, '--token', ADMIN_TOKEN], { RELAIS_DATA_DIR: relay.dataDir });
  });
  afterAll(async () => {
    await relay?.stop();
    await lm?.close();
  });

  it('550 with the URL; check names the permission (exit 2); the job is failed, not retried; retry after the fix drafts once', async () => {
    const c = await dialogue(relay.smtpPort, mailcow);
    const to = Array.from({ length: 8 }, (_, i) => `p${i}@destinataires.example`);
    const msg = ['From: alice@laruche.example', 'To: undisclosed-recipients:;', 'Subject: =?utf-8?q?Assembl=C3=A9e?= =?utf-8?q?_g=C3=A9n=C3=A9rale?=', 'Message-ID: <ag-role@laruche.example>', '', 'Bonjour.', ''].join('\r\n');
    const t = await transaction(c, 'alice@laruche.example', to, msg);
    await c.command('QUIT');
    c.close();
    expect(t.final?.code).toBe(550);
    expect(t.final?.text).toContain(`${PUBLIC_URL}/admin/campaigns`);

    const check = await cli(['listmonk', 'check', 'laruche']);
    expect(check.code, check.stderr).toBe(2);
    expect(check.stdout).toContain('FAIL  campaigns:manage_all manquante / missing (POST /api/campaigns)');
    expect(check.stdout).toContain('fr: dans Listmonk, Utilisateurs → Rôles utilisateur');
    expect(check.stdout).toContain('en: in Listmonk, Users → User roles');
    expect(check.stdout).toContain('PASS  webhooks de rebond actifs / bounce webhooks are on');
    expect(check.stdout.match(/FAIL/g)).toHaveLength(1);

    const item = await waitUntil(async () => (await api(relay, 'GET', '/listmonk/redirects')).json.items.find((i: { status: string }) => i.status === 'failed'), 'the failed job');
    expect(item).toMatchObject({ tenant: 'laruche', subject: 'Assemblée générale', jobId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(item.error).toBe(`listmonk ${lm.url} POST /api/campaigns: 403 permission denied: campaigns:manage`);
    expect(item.fix.en).toContain('tick campaigns:manage');
    const posts = lm.calls('POST /api/campaigns').length;
    await sleep(1500); // several retry periods (RELAIS_LISTMONK_RETRY_FIRST 200ms): nothing happens
    expect(lm.calls('POST /api/campaigns')).toHaveLength(posts);
    const jobs = await cli(['listmonk', 'jobs']);
    expect(jobs.stdout).toContain(item.jobId);
    expect(jobs.stdout).toContain('failed');

    lm.setPermissions(ROLE);
    expect((await cli(['listmonk', 'check', 'laruche'])).code).toBe(0);
    const retry = await cli(['listmonk', 'retry', item.jobId]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toBe(`draft job ${item.jobId}: retry scheduled\n`);
    await waitUntil(() => lm.campaigns.length === 1, 'the draft');
    const done = await waitUntil(async () => (await api(relay, 'GET', '/listmonk/redirects')).json.items.find((i: { status: string; campaignId?: number }) => i.status === 'draft-created' && i.campaignId), 'draft-created with its campaign id');
    expect(done).toMatchObject({ jobId: item.jobId, campaignId: lm.campaigns[0].id });
    expect(lm.campaigns).toHaveLength(1);
    expect(lm.lists).toHaveLength(1);
    expect((await cli(['listmonk', 'retry', item.jobId])).code).toBe(1); // nothing left to retry
    expect(lm.violations).toEqual([]);
  });
});
