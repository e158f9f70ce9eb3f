/** `relais client add|list|rotate|disable|enable|remove`: SMTP clients (Mailcow, Listmonk). */
import type { Command } from 'commander';
import { adminCommand, collect } from './common.js';
import { apiAction, out, printJson, table } from './output.js';

interface Client {
  name: string;
  tenants: string[];
  networks?: string[];
  newsletter?: boolean;
  disabled?: boolean;
  has_password?: boolean;
  source?: string;
}

function printPassword(c: Client, password: string | undefined, verb: string): void {
  out(`client ${c.name} ${verb}`);
  if (password) {
    out(`SMTP user: ${c.name}`);
    out(`password (shown once, keep it safe / affiché une seule fois) : ${password}`);
  }
}

export function registerClient(program: Command): void {
  const client = program.command('client').description('SMTP clients allowed to relay (Mailcow, Listmonk instances)');

  adminCommand(client.command('add <name>').description('create a client; prints its generated password once'))
    .requiredOption('-t, --tenant <id>', 'tenant it may send for (repeat; "*" for all)', collect)
    .option('--newsletter', 'a Listmonk instance: newsletter limits and rules apply')
    .option('--network <cidr>', 'source network allowed without AUTH (repeat)', collect)
    .option('--no-auth', 'network-only client: no password')
    .action(
      apiAction<[string]>(async (api, [name], o) => {
        const body: Record<string, unknown> = { name, tenants: o.tenant, auth: o.auth !== false };
        if (o.network) body.networks = o.network;
        if (o.newsletter) body.newsletter = true;
        const r = await api.call<{ client: Client; password?: string }>('POST', '/clients', body);
        if (o.json) return printJson(r);
        printPassword(r.client, r.password, 'created');
      }),
    );

  adminCommand(client.command('rotate <name>').description('new password (printed once); the old one stops working')).action(
    apiAction<[string]>(async (api, [name], o) => {
      const r = await api.call<{ client: Client; password?: string }>('POST', `/clients/${encodeURIComponent(name)}/rotate`);
      if (o.json) return printJson(r);
      printPassword(r.client, r.password, 'password rotated');
    }),
  );

  adminCommand(client.command('list').description('list clients (never their password)')).action(
    apiAction<[]>(async (api, _a, o) => {
      const r = await api.call<{ items: Client[] }>('GET', '/clients');
      if (o.json) return printJson(r);
      out(
        table(
          ['NAME', 'TENANTS', 'NETWORKS', 'NEWSLETTER', 'PASSWORD', 'STATE', 'SOURCE'],
          r.items.map((c) => [c.name, c.tenants.join(','), c.networks?.join(',') || undefined, c.newsletter ? 'yes' : 'no', c.has_password ? 'set' : 'none', c.disabled ? 'disabled' : 'enabled', c.source]),
        ),
      );
    }),
  );

  for (const action of ['disable', 'enable'] as const) {
    adminCommand(client.command(`${action} <name>`).description(`${action} a client`)).action(
      apiAction<[string]>(async (api, [name], o) => {
        const r = await api.call<Client>('POST', `/clients/${encodeURIComponent(name)}/${action}`);
        if (o.json) return printJson(r);
        out(`client ${name} ${action}d`);
      }),
    );
  }

  adminCommand(client.command('remove <name>').description('delete a client')).action(
    apiAction<[string]>(async (api, [name], o) => {
      const r = await api.call('DELETE', `/clients/${encodeURIComponent(name)}`);
      if (o.json) return printJson(r);
      out(`client ${name} removed`);
    }),
  );
}
