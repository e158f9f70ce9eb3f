import { describe, it, expect, afterEach } from 'vitest';
import { checkListmonk, requiredPermissions } from '../../listmonk-bridge/check.js';
import { decodeEncodedWords } from '../../listmonk-bridge/mime-lite.js';
import { startFakeListmonk, type FakeListmonk, type ListmonkVersion } from './listmonk-server.js';

const role = (version: ListmonkVersion, importRecipients = true) =>
  requiredPermissions(Number(version[1])).filter((p) => importRecipients || !p.importOnly).map((p) => p.perm);

describe.each<ListmonkVersion>(['v4.1', 'v5.1', 'v6.2'])('relais listmonk check against Listmonk %s', (version) => {
  let lm: FakeListmonk;
  afterEach(async () => {
    await lm.close();
    expect(lm.violations).toEqual([]);
  });
  const conn = (over: Record<string, unknown> = {}) => ({ url: lm.url, user: lm.user, token: lm.token, import_recipients: true, ...over });

  it('the documented role passes every check, harmlessly (nothing created)', async () => {
    lm = await startFakeListmonk({ version, permissions: role(version) });
    const r = await checkListmonk(conn());
    expect(r.version).toBe(`${version}.0`);
    expect(r.lines.filter((l) => l.status === 'fail')).toEqual([]);
    expect(r.lines.map((l) => l.check)).toEqual(['reach', 'version', ...role(version), 'bounce-webhooks']);
    for (const perm of role(version)) expect(r.lines.find((l) => l.check === perm)?.detail).toMatch(new RegExp(`^${perm} accordée / granted \\(`));
    expect([lm.lists, lm.campaigns, lm.media, lm.subscribers, lm.bounces]).toEqual([[], [], [], [], []]);
  });

  it('names each missing permission with its fix', async () => {
    for (const missing of role(version)) {
      lm = await startFakeListmonk({ version, permissions: role(version).filter((p) => p !== missing) });
      const r = await checkListmonk(conn());
      const failed = r.lines.filter((l) => l.status === 'fail');
      expect(failed.map((l) => l.check), missing).toEqual([missing]);
      expect(failed[0].detail).toContain(`${missing} manquante / missing`);
      expect(failed[0].fix?.fr).toContain(`cochez ${missing}`);
      expect(failed[0].fix?.en).toContain(`tick ${missing}`);
      await lm.close();
    }
  });

  it('bounce webhooks off (404) or processing off (503) fail with how to turn them on', async () => {
    lm = await startFakeListmonk({ version, bounceWebhooks: false });
    let r = await checkListmonk(conn({ import_recipients: false }));
    expect(r.lines.filter((l) => l.status === 'fail').map((l) => l.check)).toEqual(['bounce-webhooks']);
    expect(r.lines.at(-1)!.fix?.en).toContain('Enable bounce webhooks');
    lm.setBounceSettings({ webhooks: true, enabled: false });
    r = await checkListmonk(conn({ import_recipients: false }));
    expect(r.lines.at(-1)).toMatchObject({ check: 'bounce-webhooks', status: 'fail', detail: expect.stringContaining('503') });
  });
});

describe('relais listmonk check: reach and credentials', () => {
  it('a wrong token and an unreachable URL stop at the first line', async () => {
    const lm = await startFakeListmonk();
    const bad = await checkListmonk({ url: lm.url, user: lm.user, token: 'nope' });
    expect(bad.lines).toEqual([{ check: 'reach', status: 'fail', detail: `listmonk ${lm.url} GET /api/health: 403 invalid API credentials`, fix: expect.objectContaining({ en: expect.stringContaining('Users → New, type API') }) }]);
    await lm.close();
    const down = await checkListmonk({ url: lm.url, user: lm.user, token: lm.token });
    expect(down.lines[0]).toMatchObject({ check: 'reach', status: 'fail', detail: expect.stringContaining('network error') });
  });
});

describe('decodeEncodedWords (RFC 2047)', () => {
  it('decodes Q and B words in any charset TextDecoder knows, joins adjacent words', () => {
    expect(decodeEncodedWords('=?utf-8?q?Assembl=C3=A9e?=')).toBe('Assemblée');
    expect(decodeEncodedWords('=?UTF-8?B?UsOpdW5pb24gZMOpdMOp?= du 12')).toBe('Réunion dété du 12');
    expect(decodeEncodedWords('=?iso-8859-1?q?F=EAte_de?= =?iso-8859-1?q?_juin?=')).toBe('Fête de juin');
    expect(decodeEncodedWords('plain = text ?=')).toBe('plain = text ?=');
    expect(decodeEncodedWords('=?x-unknown?q?abc?=')).toBe('=?x-unknown?q?abc?=');
  });
});
