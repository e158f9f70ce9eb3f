/**
 * config/classification.yaml: the ordered rules that classify an SMTP reply, validated here;
 * errors name the key ("rules[4].match.text").
 */
import { FieldCheck } from '../src/stats/field-check.js';
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
  const c = new FieldCheck(source);
  const root = c.obj(doc, '(root)');
  c.onlyKeys(root, '', ['rules']);
  const ids = new Set<string>();
  return c.arr(root.rules, 'rules').map((raw, i) => {
    const key = `rules[${i}]`;
    const o = c.obj(raw, key);
    c.onlyKeys(o, key, ['id', 'match', 'reason', 'outcome']);
    const id = c.str(o.id, `${key}.id`);
    if (ids.has(id)) c.fail(`${key}.id`, `"${id}" is duplicated`);
    ids.add(id);
    const m = c.obj(o.match, `${key}.match`);
    c.onlyKeys(m, `${key}.match`, ['phase', 'code', 'enhanced', 'text']);
    const match: ClassificationRule['match'] = {};
    if (m.phase !== undefined) {
      const list = Array.isArray(m.phase) ? m.phase : [m.phase];
      match.phase = list.map((p, j) => c.oneOf(p, `${key}.match.phase[${j}]`, PHASES));
    }
    if (m.code !== undefined) {
      const list = Array.isArray(m.code) ? m.code : [m.code];
      match.code = list.map((v, j) => c.num(v, `${key}.match.code[${j}]`, 200, 599));
    }
    if (m.enhanced !== undefined) match.enhanced = c.regex(m.enhanced, `${key}.match.enhanced`);
    if (m.text !== undefined) match.text = c.regex(m.text, `${key}.match.text`);
    if (Object.keys(match).length === 0) c.fail(`${key}.match`, 'needs at least one of phase, code, enhanced, text');
    const rule: ClassificationRule = { id, match, reason: c.oneOf(o.reason, `${key}.reason`, REASONS) };
    if (o.outcome !== undefined) rule.outcome = c.oneOf(o.outcome, `${key}.outcome`, ['deferred', 'bounced'] as const);
    return rule;
  });
}


export function loadClassificationRules(path?: string): ClassificationRule[] {
  return loadDataFile('classification.yaml', parseClassificationRules, path);
}
