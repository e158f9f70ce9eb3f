/**
 * config/classification.yaml: what each reply category means by default (scope, permanence,
 * DSN status, fix) and the ordered rules that put a reply in a category, validated here; errors
 * name the key ("rules[4].match.text"). The engine that applies them is
 * relay/delivery/classify.ts.
 */
import { FieldCheck, type Obj } from '../src/stats/field-check.js';
import { createReplyClassifier, type ReplyClassifier } from '../relay/delivery/classify.js';
import { REPLY_CATEGORIES, type ReplyCategory, type ReplyFix, type ReplyScope } from '../relay/delivery/reply-class.js';
import { PHASES, type Phase } from '../relay/delivery/types.js';
import { loadDataFile } from './data-file.js';

export const REPLY_SCOPES: readonly ReplyScope[] = ['recipient', 'message', 'provider'];

export interface CategoryInfo {
  scope: ReplyScope;
  /** Absent: permanent when the reply is a 5xx (and the phase is a transaction's). */
  permanent?: boolean;
  fix?: ReplyFix;
}

export interface ClassificationRule {
  id: string;
  match: { provider?: string[]; phase?: Phase[]; code?: number[]; enhanced?: RegExp; text?: RegExp };
  category: ReplyCategory;
  permanent?: boolean;
  scope?: ReplyScope;
  /** `{url}` stands for the first URL quoted in the reply (a delisting page, a postmaster page). */
  fix?: ReplyFix;
}

export interface Classification {
  categories: Record<ReplyCategory, CategoryInfo>;
  rules: ClassificationRule[];
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

function parseFix(c: FieldCheck, v: unknown, key: string): ReplyFix | undefined {
  if (v === undefined) return undefined;
  const o = c.obj(v, key);
  c.onlyKeys(o, key, ['fr', 'en']);
  return { fr: c.str(o.fr, `${key}.fr`), en: c.str(o.en, `${key}.en`) };
}

function parseCategory(c: FieldCheck, v: unknown, key: string): CategoryInfo {
  const o = c.obj(v, key);
  c.onlyKeys(o, key, ['scope', 'permanent', 'fix']);
  const info: CategoryInfo = { scope: c.oneOf(o.scope, `${key}.scope`, REPLY_SCOPES) };
  if (o.permanent !== undefined) info.permanent = c.bool(o.permanent, `${key}.permanent`, false);
  const fix = parseFix(c, o.fix, `${key}.fix`);
  if (fix) info.fix = fix;
  return info;
}

function parseRule(c: FieldCheck, raw: unknown, key: string, ids: Set<string>): ClassificationRule {
  const o: Obj = c.obj(raw, key);
  c.onlyKeys(o, key, ['id', 'match', 'category', 'permanent', 'scope', 'fix']);
  const id = c.str(o.id, `${key}.id`);
  if (ids.has(id)) c.fail(`${key}.id`, `"${id}" is duplicated`);
  ids.add(id);
  const m = c.obj(o.match, `${key}.match`);
  c.onlyKeys(m, `${key}.match`, ['provider', 'phase', 'code', 'enhanced', 'text']);
  const match: ClassificationRule['match'] = {};
  if (m.provider !== undefined) match.provider = list(m.provider).map((p, j) => c.str(p, `${key}.match.provider[${j}]`));
  if (m.phase !== undefined) match.phase = list(m.phase).map((p, j) => c.oneOf(p, `${key}.match.phase[${j}]`, PHASES));
  if (m.code !== undefined) match.code = list(m.code).map((v, j) => c.num(v, `${key}.match.code[${j}]`, 200, 599));
  if (m.enhanced !== undefined) match.enhanced = c.regex(m.enhanced, `${key}.match.enhanced`);
  if (m.text !== undefined) match.text = c.regex(m.text, `${key}.match.text`);
  if (Object.keys(match).length === 0) c.fail(`${key}.match`, 'needs at least one of provider, phase, code, enhanced, text');
  const rule: ClassificationRule = { id, match, category: c.oneOf(o.category, `${key}.category`, REPLY_CATEGORIES) };
  if (o.permanent !== undefined) rule.permanent = c.bool(o.permanent, `${key}.permanent`, false);
  if (o.scope !== undefined) rule.scope = c.oneOf(o.scope, `${key}.scope`, REPLY_SCOPES);
  const fix = parseFix(c, o.fix, `${key}.fix`);
  if (fix) rule.fix = fix;
  return rule;
}

/** Validate a parsed classification.yaml: every category described, rules well formed. */
export function parseClassification(doc: unknown, source = 'classification.yaml'): Classification {
  const c = new FieldCheck(source);
  const root = c.obj(doc, '(root)');
  c.onlyKeys(root, '', ['categories', 'rules']);
  const cats = c.obj(root.categories, 'categories');
  c.onlyKeys(cats, 'categories', REPLY_CATEGORIES);
  const categories = {} as Record<ReplyCategory, CategoryInfo>;
  for (const name of REPLY_CATEGORIES) {
    if (cats[name] === undefined) c.fail(`categories.${name}`, 'is required');
    categories[name] = parseCategory(c, cats[name], `categories.${name}`);
  }
  const ids = new Set<string>();
  const rules = c.arr(root.rules, 'rules').map((r, i) => parseRule(c, r, `rules[${i}]`, ids));
  return { categories, rules };
}

/** Read and validate config/classification.yaml (or another file). */
export function loadClassification(path?: string): Classification {
  return loadDataFile('classification.yaml', parseClassification, path);
}

/** The classifier of a classification file (default: the bundled one). */
export function loadReplyClassifier(path?: string): ReplyClassifier {
  return createReplyClassifier(loadClassification(path));
}
