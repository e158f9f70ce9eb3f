import { describe, it, expect } from 'vitest';
import { bulkSenderRuleProblems } from '../../policies/newsletter.js';
import { bulkSenderRulesAnswer, dkimRequiredAnswer } from '../../policies/answers.js';

describe('Gmail/Yahoo bulk-sender rules', () => {
  it('finds nothing missing in one-click unsubscribe mail signed by its From: domain', () => {
    const headers = { from: ['news@laruche.example'], listUnsubscribe: '<https://l.example/u/1>', listUnsubscribePost: 'List-Unsubscribe=One-Click' };
    expect(bulkSenderRuleProblems(headers, true)).toEqual([]);
  });

  it('names each missing piece in the order of the rules', () => {
    expect(bulkSenderRuleProblems({ from: ['news@laruche.example'] }, false)).toEqual(['List-Unsubscribe', 'List-Unsubscribe-Post', 'DKIM alignment']);
    expect(bulkSenderRuleProblems({ from: [], listUnsubscribe: '<mailto:u@l.example>', listUnsubscribePost: 'List-Unsubscribe=Later' }, true)).toEqual(['List-Unsubscribe-Post']);
  });

  it('refuses a breach with 550 5.7.1, French then English', () => {
    const a = bulkSenderRulesAnswer('List-Unsubscribe, DKIM alignment');
    expect(a).toMatchObject({ code: 550, enhanced: '5.7.1' });
    expect(a.text).toBe('Règles des gros expéditeurs (Gmail/Yahoo) non respectées : List-Unsubscribe, DKIM alignment / Bulk sender requirements not met: List-Unsubscribe, DKIM alignment');
  });

  it('defers unsigned mail of a dkim_required tenant with 451 4.7.5 naming the domain', () => {
    const a = dkimRequiredAnswer('laruche.example');
    expect(a).toMatchObject({ code: 451, enhanced: '4.7.5' });
    expect(a.text).toContain('Aucune clé DKIM pour laruche.example');
    expect(a.text).toContain('No DKIM key for laruche.example');
  });
});
