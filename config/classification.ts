/**
 * config/classification.yaml: the ordered rules that classify an SMTP reply, validated here;
 * errors name the key ("rules[4].match.text").
 */
import { fail, inFile, list, mapping, num, oneOf, onlyKeys, regex, str } from './validate.js';
import { PHASES, type Phase } from '../relay/delivery/types.js';
import { REASONS, type Reason } from '../src/stats/classify.js';
import { loadDataFile } from './data-file.js';

export interface ClassificationRule {
  id: string;
  match: { phase?: Phase[]; code?: number[]; enhanced?: RegExp; text?: RegExp };
  reason: Exclude<Reason, 'none'>;
  outcome?: 'deferred' | 'bounced';
}

/** Validate parsed YAML into rules; errors name the key ("rules[4].match.text"). */
export function parseClassificationRules(doc: unknown, source = 'classification.yaml'): ClassificationRule[] {
  return inFile(source, () => rulesOf(doc));
}

function rulesOf(doc: unknown): ClassificationRule[] {
  const root = mapping(doc, '(root)');
  onlyKeys(root, '', ['rules']);
  const ids = new Set<string>();
  return list(root.rules, 'rules').map((raw, i) => {
    const key = `rules[${i}]`;
    const o = mapping(raw, key);
    onlyKeys(o, key, ['id', 'match', 'reason', 'outcome']);
    const id = str(o.id, `${key}.id`);
    if (ids.has(id)) fail(`${key}.id`, `"${id}" is duplicated`);
    ids.add(id);
    const m = mapping(o.match, `${key}.match`);
    onlyKeys(m, `${key}.match`, ['phase', 'code', 'enhanced', 'text']);
    const match: ClassificationRule['match'] = {};
    if (m.phase !== undefined) {
      const phases = Array.isArray(m.phase) ? m.phase : [m.phase];
      match.phase = phases.map((p, j) => oneOf(p, `${key}.match.phase[${j}]`, PHASES));
    }
    if (m.code !== undefined) {
      const codes = Array.isArray(m.code) ? m.code : [m.code];
      match.code = codes.map((v, j) => num(v, `${key}.match.code[${j}]`, 200, 599));
    }
    if (m.enhanced !== undefined) match.enhanced = regex(m.enhanced, `${key}.match.enhanced`);
    if (m.text !== undefined) match.text = regex(m.text, `${key}.match.text`);
    if (Object.keys(match).length === 0) fail(`${key}.match`, 'needs at least one of phase, code, enhanced, text');
    const rule: ClassificationRule = { id, match, reason: oneOf(o.reason, `${key}.reason`, REASONS) };
    if (o.outcome !== undefined) rule.outcome = oneOf(o.outcome, `${key}.outcome`, ['deferred', 'bounced'] as const);
    return rule;
  });
}


export function loadClassificationRules(path?: string): ClassificationRule[] {
  return loadDataFile('classification.yaml', parseClassificationRules, path);
}
