/** `relais tenant add|list|show|remove|reset`: tenants (collectives, people) and their domains. */
import type { Command } from 'commander';
import { adminCommand, collect } from './common.js';
import { apiAction, out, printJson, printYaml, table } from './output.js';

interface Tenant {
  id: string;
  name?: string;
  domains: string[];
  clients?: string[];
  source?: string;
  [k: string]: unknown;
}

function parseJsonOption(flag: string, text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
}

export function registerTenant(program: Command): void {
  const tenant = program.command('tenant').description('tenants: collectives and people sending through the relay');

  adminCommand(tenant.command('add <id>').description('create a tenant'))
    .requiredOption('-d, --domain <domain>', 'sending domain (repeat for several; "*.example.org" for subdomains)', collect)
    .option('-n, --name <name>', 'display name')
    .option('--limits-json <json>', 'limits, e.g. \'{"mailbox":{"messages_per_hour":100}}\'')
    .option('--dkim-required', 'refuse mail from this tenant when no DKIM key can sign it')
    .action(
      apiAction<[string]>(async (api, [id], o) => {
        const body: Record<string, unknown> = { id, domains: o.domain };
        if (o.name) body.name = o.name;
        const limits = parseJsonOption('--limits-json', o.limitsJson as string | undefined);
        if (limits) body.limits = limits;
        if (o.dkimRequired) body.dkim_required = true;
        const t = await api.call<Tenant>('POST', '/tenants', body);
        if (o.json) return printJson(t);
        out(`tenant ${t.id} created (domains: ${t.domains.join(', ')})`);
      }),
    );

  adminCommand(tenant.command('list').description('list tenants')).action(
    apiAction<[]>(async (api, _a, o) => {
      const r = await api.call<{ items: Tenant[] }>('GET', '/tenants');
      if (o.json) return printJson(r);
      out(table(['ID', 'NAME', 'DOMAINS', 'CLIENTS', 'SOURCE'], r.items.map((t) => [t.id, t.name, t.domains.join(','), t.clients?.join(',') || undefined, t.source])));
    }),
  );

  adminCommand(tenant.command('show <id>').description('one tenant: domains, limits, mailboxes, Listmonk (token never shown)')).action(
    apiAction<[string]>(async (api, [id], o) => {
      const t = await api.call<Tenant>('GET', `/tenants/${encodeURIComponent(id)}`);
      if (o.json) return printJson(t);
      printYaml(t);
    }),
  );

  adminCommand(tenant.command('remove <id>').description('delete a tenant')).action(
    apiAction<[string]>(async (api, [id], o) => {
      const r = await api.call('DELETE', `/tenants/${encodeURIComponent(id)}`);
      if (o.json) return printJson(r);
      out(`tenant ${id} removed`);
    }),
  );

  adminCommand(tenant.command('reset <id>').description('forget run-time changes: back to the YAML definition')).action(
    apiAction<[string]>(async (api, [id], o) => {
      const r = await api.call<{ tenant?: Tenant }>('POST', `/tenants/${encodeURIComponent(id)}/reset`);
      if (o.json) return printJson(r);
      out(r.tenant ? `tenant ${id} reset to its YAML definition` : `tenant ${id} removed (not in the YAML file)`);
    }),
  );
}
