/**
 * `relais reply explain "550 5.7.1 …" [--mx HOST] [--phase P] [--json]`: what Relais makes of a
 * reply — the same classification delivery uses to bounce or retry — for admins who ask "why was
 * my mail refused?". Reads the configured providers and classification files (--config), else the
 * bundled ones; needs no running relay.
 */
import type { Command } from 'commander';
import { loadReplyClassifier } from '../../config/classification.js';
import { loadProviders } from '../../config/providers.js';
import type { ReplyClass } from '../../relay/delivery/reply-class.js';
import type { Phase } from '../../relay/delivery/types.js';
import { configFrom, fail, withConfig } from './common.js';

/** The phases an admin names, as the SMTP command the reply answered. */
const PHASES: Record<string, Phase> = { connect: 'connect', helo: 'greeting', mail: 'mail', rcpt: 'rcpt', data: 'data' };

export interface ExplainOptions {
  config?: string;
  mx?: string;
  phase?: string;
  json?: boolean;
}

export function explainReply(reply: string, opts: ExplainOptions): ReplyClass {
  const phase = PHASES[(opts.phase ?? 'rcpt').toLowerCase()];
  if (!phase) throw new Error(`--phase: expected one of ${Object.keys(PHASES).join(', ')}, got ${JSON.stringify(opts.phase)}`);
  if (!reply.trim()) throw new Error('empty reply: give the server reply as one argument, e.g. "550 5.1.1 User unknown"');
  const config = opts.config ? configFrom(opts) : null;
  const providers = loadProviders(config?.delivery.providers_file);
  const provider = opts.mx ? providers.providerForMx(opts.mx).id : undefined;
  return loadReplyClassifier(config?.stats.classification_file).classify({ text: reply, phase, ...(provider ? { provider } : {}) });
}

function asText(c: ReplyClass): string {
  const rows: [string, string][] = [
    ['category', c.category],
    ['permanent', c.permanent ? 'oui, renvoyé sans nouvel essai / yes, bounced at once' : 'non, réessayé jusqu’à expiration / no, retried until the message expires'],
    ['scope', c.scope],
    ['provider', c.provider],
    ['rule', c.rule ?? '(none)'],
  ];
  if (c.fix) rows.push(['fix (fr)', c.fix.fr], ['fix (en)', c.fix.en]);
  return rows.map(([k, v]) => `${`${k}:`.padEnd(11)}${v}\n`).join('');
}

export function registerReply(program: Command): void {
  const reply = program.command('reply').description('what Relais makes of an SMTP reply');
  withConfig(
    reply
      .command('explain')
      .description('classify a reply as delivery does: category, permanent, scope, provider, rule, fix')
      .argument('<reply>', 'the server reply, e.g. "550 5.7.1 …" (several lines joined are fine)')
      .option('--mx <host>', 'MX host that answered (names the provider)')
      .option('--phase <phase>', 'command answered: connect | helo | mail | rcpt | data (default rcpt)')
      .option('--json', 'print {"category","permanent","scope","provider","rule","fix":{"fr","en"}}'),
  ).action((text: string, opts: ExplainOptions) => {
    try {
      const c = explainReply(text, opts);
      if (opts.json) {
        const out = { category: c.category, permanent: c.permanent, scope: c.scope, provider: c.provider, rule: c.rule ?? null, fix: { fr: c.fix?.fr ?? '', en: c.fix?.en ?? '' } };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        process.stdout.write(asText(c));
      }
    } catch (err) {
      fail(err);
    }
  });
}
