/**
 * Redis connection strings understood by Relais:
 *   redis://[[user]:password@]host[:port][/db]          plain TCP
 *   rediss://...                                          TLS
 *   redis+sentinel://[[user]:password@]h1:26379,h2:26379/mastername[/db][?sentinelPassword=...&sentinelUsername=...&tls=1]
 *   redis+cluster://[[user]:password@]h1:6379,h2:6379[?tls=1]
 * In the Sentinel form the credentials are those of the Redis master; Sentinel's own go in the
 * query string.
 */

export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      name: string;
      db?: number;
      username?: string;
      password?: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
      tls: boolean;
    }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; username?: string; password?: string; tls: boolean };

function hostList(text: string, defaultPort: number): { host: string; port: number }[] {
  return text.split(',').filter(Boolean).map((hp) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp.trim());
    if (!m) throw new Error(`invalid host "${hp}" in Redis URL`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : defaultPort };
  });
}

export function parseRedisUrl(url: string): RedisTarget {
  const scheme = /^([a-z+]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'redis' || scheme === 'rediss') return { kind: 'single', url };
  if (scheme !== 'redis+sentinel' && scheme !== 'redis+cluster') {
    throw new Error(`unsupported Redis URL scheme "${scheme ?? url}" (redis, rediss, redis+sentinel, redis+cluster)`);
  }
  const rest = url.slice(scheme.length + 3);
  const [beforeQuery, query = ''] = rest.split('?', 2);
  const params = new URLSearchParams(query);
  const at = beforeQuery.lastIndexOf('@');
  const auth = at >= 0 ? beforeQuery.slice(0, at) : '';
  const [hostsPart, ...path] = (at >= 0 ? beforeQuery.slice(at + 1) : beforeQuery).split('/');
  const colon = auth.indexOf(':');
  const username = colon > 0 ? decodeURIComponent(auth.slice(0, colon)) : undefined;
  const password = colon >= 0 ? decodeURIComponent(auth.slice(colon + 1)) || undefined : auth ? decodeURIComponent(auth) : undefined;
  const tls = ['1', 'true', 'yes'].includes(params.get('tls') ?? '');
  if (scheme === 'redis+cluster') return { kind: 'cluster', nodes: hostList(hostsPart, 6379), username, password, tls };
  const name = path[0];
  if (!name) throw new Error('redis+sentinel URL needs the master name: redis+sentinel://h1:26379,h2:26379/mymaster');
  return {
    kind: 'sentinel',
    sentinels: hostList(hostsPart, 26379),
    name: decodeURIComponent(name),
    db: path[1] ? Number(path[1]) : undefined,
    username,
    password,
    sentinelUsername: params.get('sentinelUsername') ?? undefined,
    sentinelPassword: params.get('sentinelPassword') ?? undefined,
    tls,
  };
}
