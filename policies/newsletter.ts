/**
 * The Gmail/Yahoo 2024 bulk-sender rules, checked on newsletter mail: an RFC 8058 one-click
 * unsubscribe (List-Unsubscribe and List-Unsubscribe-Post) and a DKIM signature aligned with the
 * From: domain. Tenants choose whether a breach is only flagged or refused (newsletter_rules).
 */
import type { HeaderFacts } from './types.js';

/** What the message lacks, in the words of the rules ([] when it meets them). */
export function bulkSenderRuleProblems(headers: HeaderFacts, dkimAligned: boolean): string[] {
  const problems: string[] = [];
  if (!headers.listUnsubscribe) problems.push('List-Unsubscribe');
  if (!/one-click/i.test(headers.listUnsubscribePost ?? '')) problems.push('List-Unsubscribe-Post');
  if (!dkimAligned) problems.push('DKIM alignment');
  return problems;
}
