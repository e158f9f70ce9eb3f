import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config/config.js';

const example = resolve(import.meta.dirname, '../../config/relais.example.yaml');

describe('configuration', () => {
  it('the documented example file loads, with the documented defaults', () => {
    const c = loadConfig({ file: example, env: {} });
    expect(c.smtp.listeners[0]!.listen).toEqual({ host: '127.0.0.1', port: 2525 });
    expect(c.api.listen).toEqual({ host: '127.0.0.1', port: 8025 });
    expect(c.smtp.max_message_size).toBe(104_857_600);
    expect(c.smtp.max_recipients).toBe(1000);
    expect(c.smtp.max_header_size).toBe(1_048_576);
    expect(c.smtp.max_report_size).toBe(2_097_152);
    expect(c.queue).toMatchObject({ retry_first_ms: 300_000, retry_max_ms: 3_600_000, lifetime_ms: 5 * 86_400_000, delay_warning_ms: 4 * 3_600_000 });
    expect(c.store.redis_url).toBeUndefined();
  });

  it('RELAIS_* variables override the file', () => {
    const c = loadConfig({
      file: example,
      env: {
        RELAIS_SMTP_LISTEN: '0.0.0.0:587,[::1]:2526',
        RELAIS_API_LISTEN: '127.0.0.1:9999',
        RELAIS_REDIS_URL: 'redis://127.0.0.1:6379/2',
        RELAIS_DNS_SERVERS: '127.0.0.1:5353,9.9.9.9',
        RELAIS_SMARTHOST: 'smtp.example.net:587',
        RELAIS_MAX_MESSAGE_SIZE: '2048',
        RELAIS_SMTP_MAX_HEADER_SIZE: '65536',
        RELAIS_SMTP_MAX_REPORT_SIZE: '131072',
        RELAIS_RELAY_NETWORKS: '10.0.0.0/8',
        RELAIS_QUEUE_RETRY_FIRST: '30s',
        RELAIS_ALLOW_PRIVATE_MX: '1',
      },
    });
    expect(c.smtp.listeners.map((l) => l.listen)).toEqual([
      { host: '0.0.0.0', port: 587 },
      { host: '::1', port: 2526 },
    ]);
    expect(c.api.listen.port).toBe(9999);
    expect(c.store.redis_url).toBe('redis://127.0.0.1:6379/2');
    expect(c.dns.servers).toEqual(['127.0.0.1:5353', '9.9.9.9']);
    expect(c.delivery.smarthost).toEqual({ host: 'smtp.example.net', port: 587 });
    expect(c.smtp.max_message_size).toBe(2048);
    expect(c.smtp.max_header_size).toBe(65_536);
    expect(c.smtp.max_report_size).toBe(131_072);
    expect(c.clients).toEqual([{ name: 'relay-networks', networks: ['10.0.0.0/8'], tenants: ['*'], allow_null_sender: true, trusted: true }]);
    expect(c.queue.retry_first_ms).toBe(30_000);
    expect(c.delivery.allow_private_mx).toBe(true);
  });

  it('invalid values fail naming the key', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ RELAIS_SMTP_LISTEN: 'localhost' }, /^smtp\.listen: missing port/],
      [{ RELAIS_MAX_MESSAGE_SIZE: 'big' }, /^smtp\.max_message_size: must be an integer/],
      [{ RELAIS_SMTP_MAX_HEADER_SIZE: '1MiB' }, /^smtp\.max_header_size: must be an integer/],
      [{ RELAIS_SMTP_MAX_REPORT_SIZE: '10' }, /^smtp\.max_report_size: /],
      [{ RELAIS_DNS_SERVERS: 'resolver.example' }, /^dns\.servers: invalid IP address/],
      [{ RELAIS_REDIS_URL: 'http://x' }, /^store\.redis_url: expected redis:\/\//],
      [{ RELAIS_RELAY_NETWORKS: '10.0.0.0/99' }, /^smtp\.relay_networks: invalid network/],
      [{ RELAIS_QUEUE_LIFETIME: '5 days' }, /^queue\.lifetime: must be a duration/],
      [{ RELAIS_ALLOW_PRIVATE_MX: 'perhaps' }, /^delivery\.allow_private_mx: must be true or false/],
      [{ RELAIS_BOUNCE_DOMAIN: 'bounce.example' }, /^listmonk\.postmaster_forward: listmonk\.bounce_domain is set \(bounce\.example\): give the address that receives mail for postmaster@bounce\.example \(RELAIS_POSTMASTER_FORWARD\)/],
      [{ RELAIS_BOUNCE_DOMAIN: 'bounce.example', RELAIS_POSTMASTER_FORWARD: 'admin' }, /^listmonk\.postmaster_forward: must be an e-mail address/],
      [{ RELAIS_BOUNCE_DOMAIN: 'bounce.example', RELAIS_POSTMASTER_FORWARD: 'x@bounce.example' }, /^listmonk\.postmaster_forward: must be outside the bounce domain/],
    ];
    for (const [env, re] of bad) expect(() => loadConfig({ env }), JSON.stringify(env)).toThrow(re);
  });

  it('delivery.pools.<name>.warmup: read with its defaults, checked naming the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relais-warmup-'));
    const load = (warmup: string) => {
      const file = join(dir, 'relais.yaml');
      writeFileSync(file, `delivery:\n  pools:\n    lettres:\n      local_addresses: [192.0.2.25]\n      warmup: ${warmup}\n`);
      return loadConfig({ file, env: {} }).delivery.pools.lettres!.warmup;
    };
    try {
      expect(load('{ start: 2026-12-01 }')).toEqual({ start: '2026-12-01', initial: 50, growth: 1.5, max: 100_000 });
      expect(load("{ start: '2026-12-01', initial: 20, growth: 2, max: 5000, providers: [google, microsoft] }")).toEqual({ start: '2026-12-01', initial: 20, growth: 2, max: 5000, providers: ['google', 'microsoft'] });
      expect(() => load('{ start: demain }')).toThrow(/delivery\.pools\.lettres\.warmup\.start: must be a date YYYY-MM-DD/);
      expect(() => load('{ start: 2026-12-01, growth: 20 }')).toThrow(/warmup\.growth: must be a number between 1 and 10/);
      expect(() => load('{ start: 2026-12-01, daily: 5 }')).toThrow(/warmup\.daily: unknown key/);
      expect(() => load('{ start: 2026-12-01, providers: [Google Mail] }')).toThrow(/warmup\.providers: "Google Mail" is not a provider id/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('listmonk.postmaster_forward comes with the bounce domain', () => {
    const c = loadConfig({ env: { RELAIS_BOUNCE_DOMAIN: 'Bounce.Example', RELAIS_POSTMASTER_FORWARD: 'admin@laruche.example' } });
    expect(c.listmonk).toMatchObject({ bounce_domain: 'bounce.example', postmaster_forward: 'admin@laruche.example' });
  });
});
