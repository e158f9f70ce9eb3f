/** The intake takes reports from several parts (VERP bounces, DMARC/TLS reports): one view over them. */
import type { ReportTaker } from '../../relay/intake/hooks.js';

/** One ReportTaker over several: each message goes to the one whose addresses it is sent to. */
export function combineReports(parts: ReportTaker[]): ReportTaker {
  const owner = (recipients: string[]) => parts.find((p) => p.isReport(recipients));
  return {
    recipientKind(address) {
      // A part that takes the address wins over one that only knows its domain ('unknown').
      const kinds = parts.map((p) => p.recipientKind(address));
      return (['report', 'postmaster', 'unknown'] as const).find((k) => kinds.includes(k)) ?? null;
    },
    isReport: (recipients) => owner(recipients) !== undefined,
    takerOf(address) {
      const i = parts.findIndex((p) => {
        const k = p.recipientKind(address);
        return k === 'report' || k === 'postmaster';
      });
      return i < 0 ? undefined : i;
    },
    handle: (ctx) => owner(ctx.facts.recipients)!.handle(ctx),
  };
}
