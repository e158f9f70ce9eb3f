/** Output of the admin commands: plain tables for people, raw JSON (--json) for scripts. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { RelaisConfig } from '../config/config.js';
import { withApi, type ApiCaller } from './backend.js';
import { configFrom, fail, type AdminOptions } from './common.js';

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** YAML reads well for one nested object (a tenant, a message). */
export function printYaml(value: unknown): void {
  out(stringify(value, { lineWidth: 0 }).trimEnd());
}

type Cell = string | number | boolean | null | undefined;

const width = (s: string) => [...s].length;

/** A left-aligned text table; numbers are right-aligned. `empty` is printed when there are no rows. */
export function table(headers: string[], rows: Cell[][], empty = '(none)'): string {
  if (!rows.length) return empty;
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const numeric = headers.map((_, i) => rows.some((r) => typeof r[i] === 'number') && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  const w = headers.map((h, i) => Math.max(width(h), ...text.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(w[i]!) : i === cells.length - 1 ? c : c + ' '.repeat(w[i]! - width(c))))
      .join('  ')
      .trimEnd();
  return [line(headers), line(w.map((n) => '-'.repeat(n))), ...text.map(line)].join('\n');
}

export function truncate(s: string | undefined, n: number): string | undefined {
  if (s === undefined) return undefined;
  return width(s) > n ? `${[...s].slice(0, n - 1).join('')}…` : s;
}

/** "2026-01-02 10:11" in UTC, short enough for a table. */
export function shortTime(iso: string | number | undefined): string | undefined {
  if (iso === undefined) return undefined;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/**
 * Progress for long operations, on stderr and only on a terminal, so piped output stays clean.
 * `update` rewrites one line; `done` erases it.
 */
export function progress(label: string): { update(text: string): void; done(): void } {
  const tty = Boolean(process.stderr.isTTY);
  let shown = false;
  const write = (text: string) => {
    if (!tty) return;
    process.stderr.write(`\r\x1b[2K${label}${text ? ` ${text}` : ''}`);
    shown = true;
  };
  write('…');
  return {
    update: write,
    done() {
      if (shown) process.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}

/** Command action that loads the config, opens the API backend, runs, and exits with its code. */
export function apiAction<A extends unknown[]>(
  run: (api: ApiCaller, args: A, opts: AdminOptions & Record<string, unknown>, config: RelaisConfig) => Promise<number | void>,
): (...args: unknown[]) => Promise<void> {
  return async (...all: unknown[]) => {
    // Commander passes (...positional, opts, command).
    const cmd = all.at(-1) as Command;
    const opts = cmd.opts() as AdminOptions & Record<string, unknown>;
    const args = all.slice(0, -2) as A;
    let code: number | void;
    try {
      const config = configFrom(opts);
      code = await withApi(config, { api: opts.api, token: opts.token, verbose: opts.verbose }, (api) => run(api, args, opts, config));
    } catch (err) {
      fail(err);
    }
    // Exit explicitly: store pollers and sockets of the in-process services must not keep us alive.
    process.exit(code ?? 0);
  };
}
