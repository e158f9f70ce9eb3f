import { describe, it, expect } from 'vitest';
import { parseRedisUrl } from '../../src/store/redis-url.js';
import { hashTagOf, limitKey } from '../../src/store/keys.js';

describe('Redis URL forms', () => {
  it('passes redis:// and rediss:// through', () => {
    expect(parseRedisUrl('rediss://:pw@redis.example:6380/2')).toEqual({ kind: 'single', url: 'rediss://:pw@redis.example:6380/2' });
  });
  it('parses the Sentinel form', () => {
    expect(parseRedisUrl('redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2,[::1]:26380/relais-master/1?sentinelPassword=sp')).toEqual({
      kind: 'sentinel', name: 'relais-master', db: 1, username: undefined, password: 's@cret', sentinelUsername: undefined, sentinelPassword: 'sp', tls: false,
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }, { host: '::1', port: 26380 }],
    });
    expect(() => parseRedisUrl('redis+sentinel://h1:26379')).toThrow(/master name/);
  });
  it('parses the Cluster form and rejects others', () => {
    expect(parseRedisUrl('redis+cluster://a:7000,b:7001?tls=1')).toMatchObject({ kind: 'cluster', tls: true, nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }] });
    expect(() => parseRedisUrl('http://x')).toThrow(/unsupported/);
  });
  it('builds hash-tagged limit keys', () => {
    expect(limitKey('t:la-ruche', 'q:mailbox:a@x:messages_per_hour')).toBe('{t:la-ruche}q:mailbox:a@x:messages_per_hour');
    expect(hashTagOf('relais:{t:la-ruche}q:x')).toBe('t:la-ruche');
    expect(hashTagOf('relais:{}x')).toBeUndefined();
  });
});
