/** `relais reply explain`: the classification delivery uses, shown to an admin (built CLI, no relay). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, writeYaml } from '../helpers/relay-process.js';
import { expectOneLineError, ok, relais } from './run-cli.js';

const env = {};

describe('relais reply explain', () => {
  it('--json prints exactly category, permanent, scope, provider, rule and fix, the reply taken as an answer to RCPT TO', async () => {
    const out = await ok(['reply', 'explain', '--json', '550 5.7.606 Access denied, banned sending IP [198.51.100.222]. To request removal from this list please visit https://sender.office.com/ and follow the directions.'], env);
    const c = JSON.parse(out);
    expect(Object.keys(c)).toEqual(['category', 'permanent', 'scope', 'provider', 'rule', 'fix']);
    expect(Object.keys(c.fix)).toEqual(['fr', 'en']);
    expect(c).toMatchObject({ category: 'blocklisted_ip', permanent: true, scope: 'provider', provider: 'other', rule: 'microsoft-banned-ip' });
    expect(c.fix.en).toContain('https://sender.office.com/');
  });

  it('--mx names the provider; a 5xx for a passing condition is not permanent', async () => {
    const c = JSON.parse(await ok(['reply', 'explain', '--json', '--mx', 'gmail-smtp-in.l.google.com', '552-5.2.2 The email account that you tried to reach is over quota.'], env));
    expect(c).toMatchObject({ category: 'mailbox_full', permanent: false, scope: 'recipient', provider: 'google' });
  });

  it('--phase helo: a host refusing to talk defers; the table form shows every field', async () => {
    const out = await ok(['reply', 'explain', '--phase', 'helo', '554 5.7.1 Service unavailable; Client host [192.0.2.25] blocked using zen.spamhaus.org'], env);
    expect(out).toMatch(/^category: +blocklisted_ip$/m);
    expect(out).toMatch(/^permanent: +non/m);
    expect(out).toMatch(/^scope: +provider$/m);
    expect(out).toMatch(/^rule: +block-list$/m);
    expect(out).toMatch(/^fix \(fr\): /m);
    expect(out).toMatch(/^fix \(en\): /m);
  });

  it('bad input is one clear line', async () => {
    expect(expectOneLineError(await relais(['reply', 'explain', '--phase', 'quit', '550 x'], env))).toBe('relais: --phase: expected one of connect, helo, mail, rcpt, data, got "quit"');
    expect(expectOneLineError(await relais(['reply', 'explain', '  '], env))).toMatch(/^relais: empty reply/);
  });

  it('uses the configured classification file; config check rejects a bad one naming the key', async () => {
    const d = tempDir('relais-cli-reply-');
    const bundled = readFileSync(new URL('../../config/classification.yaml', import.meta.url), 'utf8');
    const rules = join(d, 'classification.yaml');
    writeFileSync(rules, bundled.replace('rules:\n', "rules:\n  - id: local-greylist\n    match: { text: 'come back later' }\n    category: rate_limited\n"));
    const file = writeYaml(d, `data_dir: ${join(d, 'data')}\nstats:\n  classification_file: ${rules}\n`);
    const c = JSON.parse(await ok(['reply', 'explain', '--json', '--config', file, '450 4.2.0 come back later'], env));
    expect(c).toMatchObject({ category: 'rate_limited', rule: 'local-greylist', permanent: false });
    writeFileSync(rules, bundled.replace('rules:\n', "rules:\n  - id: broken\n    match: { text: '(' }\n    category: policy\n"));
    const r = await relais(['config', 'check', '--config', file], env);
    expect(r.code).toBe(78);
    expect(expectOneLineError(r)).toMatch(/rules\[0\]\.match\.text: is not a valid regex/);
  });
});
