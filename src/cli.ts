#!/usr/bin/env node
/** The `relais` command. Every sub-command accepts --config FILE and the RELAIS_* variables. */
import { Command } from 'commander';
import { registerClient } from './cli/client.js';
import { registerConfigCheck } from './cli/config-check.js';
import { registerDkim } from './cli/dkim.js';
import { registerDomain } from './cli/domain.js';
import { registerHashPassword } from './cli/hash-password.js';
import { registerListmonk } from './cli/listmonk.js';
import { registerQueue } from './cli/queue.js';
import { registerQuota } from './cli/quota.js';
import { registerReply } from './cli/reply.js';
import { registerShaping } from './cli/shaping.js';
import { registerReputation } from './cli/reputation.js';
import { registerStart } from './cli/start.js';
import { registerStats } from './cli/stats.js';
import { registerTenant } from './cli/tenant.js';
import { registerToken } from './cli/token.js';

const program = new Command('relais')
  .description('Relais — passerelle de courrier sortant / outbound mail gateway')
  .version('0.1.0')
  // Usage errors too are one "relais: ..." line.
  .configureOutput({ outputError: (str, write) => write(`relais: ${str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`) });
registerStart(program);
registerHashPassword(program);
registerConfigCheck(program);
registerTenant(program);
registerClient(program);
registerQuota(program);
registerDkim(program);
registerDomain(program);
registerReputation(program);
registerQueue(program);
registerStats(program);
registerReply(program);
registerShaping(program);
registerToken(program);
registerListmonk(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`relais: ${(err as Error).message}\n`);
  process.exit(1);
});
