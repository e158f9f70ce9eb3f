/** `relais token create|list|revoke`: admin API tokens (hashed at rest, shown once). */
import type { Command } from 'commander';
import { adminCommand, collect } from './common.js';
import { apiAction, out, printJson, shortTime, table } from './output.js';

interface TokenInfo {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt?: string;
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('admin API tokens');

  adminCommand(token.command('create').description('create a token; prints it once'))
    .requiredOption('-n, --name <name>', 'what the token is for (e.g. "grafana", "alice")')
    .option('-s, --scope <scope>', '"admin" or "tenant:<id>" (read-only, one tenant); repeat for several', collect)
    .action(
      apiAction<[]>(async (api, _a, o) => {
        const scopes = (o.scope as string[] | undefined) ?? ['admin'];
        const r = await api.call<{ token: string; info: TokenInfo }>('POST', '/tokens', { name: o.name, scopes });
        if (o.json) return printJson(r);
        out(`token ${r.info.id} "${r.info.name}" (${r.info.scopes.join(', ')}) created`);
        out(`token (shown once, keep it safe / affiché une seule fois) : ${r.token}`);
      }),
    );

  adminCommand(token.command('list').description('tokens (never their secret)')).action(
    apiAction<[]>(async (api, _a, o) => {
      const r = await api.call<TokenInfo[]>('GET', '/tokens');
      if (o.json) return printJson(r);
      out(table(['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED'], r.map((t) => [t.id, t.name, t.scopes.join(','), shortTime(t.createdAt), shortTime(t.lastUsedAt)]), '(no token)'));
    }),
  );

  adminCommand(token.command('revoke <id>').description('revoke a token: it stops working at once')).action(
    apiAction<[string]>(async (api, [id], o) => {
      const r = await api.call('DELETE', `/tokens/${encodeURIComponent(id)}`);
      if (o.json) return printJson(r);
      out(`token ${id} revoked`);
    }),
  );
}
