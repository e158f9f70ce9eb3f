import { describe, it, expect } from 'vitest';
import { ConfigError, Problems, bool, duration, envBool, envInt, envList, hostPort, inFile, mapping, onlyKeys, oneOf, optStr, posInt, str, url } from '../../config/validate.js';

function problemsOf(fn: () => unknown): string[] {
  try { fn(); } catch (e) { if (e instanceof ConfigError) return e.problems; throw e; }
  return [];
}

describe('the one validation kit', () => {
  it('answers the value typed, or throws a ConfigError naming the key', () => {
    expect(posInt(3, 'a.b')).toBe(3);
    expect(problemsOf(() => posInt(0, 'a.b'))).toEqual(['a.b: must be a positive integer']);
    expect(() => posInt('3', 'a.b')).toThrow('a.b: must be a positive integer');
    expect(oneOf('reject', 'x.action', ['flag', 'reject'] as const)).toBe('reject');
    expect(problemsOf(() => oneOf('drop', 'x.action', ['flag', 'reject']))).toEqual(['x.action: must be one of flag|reject']);
    expect(problemsOf(() => str(undefined, 'x.id'))).toEqual(['x.id: is required']);
    expect(problemsOf(() => str(3, 'x.id'))).toEqual(['x.id: must be a string']);
    expect(optStr('', 'x.name')).toBeUndefined();
    expect(bool(undefined, 'x.on', true)).toBe(true);
    expect(problemsOf(() => bool('yes', 'x.on'))).toEqual(['x.on: must be true or false']);
    expect(url('https://lists.example/', 'x.url')).toBe('https://lists.example');
    expect(problemsOf(() => url('ftp://lists.example', 'x.url'))).toEqual(['x.url: must be an http(s) URL']);
    expect(problemsOf(() => mapping([], 'x'))).toEqual(['x: must be a mapping']);
  });

  it('reads the string forms RELAIS_* variables give', () => {
    expect(envInt(' 42 ', 'smtp.max_recipients', 1)).toBe(42);
    expect(() => envInt('big', 'smtp.max_recipients', 1)).toThrow(/^smtp\.max_recipients: must be an integer between 1 and/);
    expect(envBool('on', 'k')).toBe(true);
    expect(envBool('', 'k')).toBe(false);
    expect(envList('a, b,,c', 'k')).toEqual(['a', 'b', 'c']);
    expect(duration('1h30m', 'k')).toBe(5_400_000);
    expect(duration(30, 'k')).toBe(30_000);
    expect(() => duration('5 days', 'queue.lifetime')).toThrow('queue.lifetime: must be a duration like 30s, 5m, 4h, 5d (got "5 days")');
    expect(hostPort('[::1]:2525', 'k')).toEqual({ host: '::1', port: 2525 });
    expect(hostPort('dns.example', 'k', 53)).toEqual({ host: 'dns.example', port: 53 });
    expect(() => hostPort('x:99999', 'k')).toThrow('k: invalid port "99999"');
  });

  it('names every unknown key of a mapping', () => {
    expect(problemsOf(() => onlyKeys({ a: 1, b: 2, c: 3 }, 'root', ['a']))).toEqual([
      'root.b: unknown key (expected one of: a)',
      'root.c: unknown key (expected one of: a)',
    ]);
  });

  it('collects every problem when asked, and throws them together', () => {
    const p = new Problems();
    expect(p.take(() => posInt(2, 'a'))).toBe(2);
    expect(p.take(() => posInt(-1, 'b'))).toBeUndefined();
    expect(p.opt(undefined, 'c', posInt)).toBeUndefined();
    expect(p.opt('x', 'd', posInt)).toBeUndefined();
    p.add('e', 'is odd');
    const err = (() => { try { p.throwIfAny(); } catch (e) { return e as ConfigError; } })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toEqual(['b: must be a positive integer', 'd: must be a positive integer', 'e: is odd']);
    expect(err!.message).toBe('invalid configuration:\n  b: must be a positive integer\n  d: must be a positive integer\n  e: is odd');
    expect(() => new Problems().throwIfAny()).not.toThrow();
  });

  it('checks the optional keys of a section from one table', () => {
    const p = new Problems();
    expect(p.fields<{ a: number; b: boolean; c: string }>({ a: 2, b: 'no' }, 's', { a: posInt, b: bool, c: str })).toEqual({ a: 2 });
    expect(p.list).toEqual(['s.b: must be true or false']);
  });

  it('names the file in front of each problem of a file loader', () => {
    expect(problemsOf(() => inFile('providers.yaml', () => posInt(0, 'defaults.max_connections')))).toEqual(['providers.yaml: defaults.max_connections: must be a positive integer']);
    expect(() => inFile('x.yaml', () => { throw new Error('disk'); })).toThrow('disk');
  });
});
