/**
 * config/classification.yaml: what each reply category means by default (scope, permanence,
 * fix) and the ordered rules that put a reply in a category, validated here; errors name the key
 * ("rules[4].match.text"). The engine that applies them is relay/delivery/classify.ts.
 */
import { createReplyClassifier, type ReplyClassifier } from '../relay/delivery/classify.js';
import { REPLY_CATEGORIES, type ReplyCategory, type ReplyFix, type ReplyScope } from '../relay/delivery/reply-class.js';
import { PHASES, type Phase } from '../relay/delivery/types.js';
import { loadDataFile } from './data-file.js';
import { bool, fail, inFile, list, mapping, num, oneOf, onlyKeys, regex, str, type Obj } from './validate.js';

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

/** A value or a list of values ("phase: rcpt" or "phase: [mail, rcpt]"). */
const oneOrMore = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

function fixOf(v: unknown, key: string): ReplyFix | undefined {
  if (v === undefined) return undefined;
  const o = mapping(v, key);
  onlyKeys(o, key, ['fr', 'en']);
  return { fr: str(o.fr, `${key}.fr`), en: str(o.en, `${key}.en`) };
}

function categoryOf(v: unknown, key: string): CategoryInfo {
  const o = mapping(v, key);
  onlyKeys(o, key, ['scope', 'permanent', 'fix']);
  const info: CategoryInfo = { scope: oneOf(o.scope, `${key}.scope`, REPLY_SCOPES) };
  if (o.permanent !== undefined) info.permanent = bool(o.permanent, `${key}.permanent`);
  const fix = fixOf(o.fix, `${key}.fix`);
  if (fix) info.fix = fix;
  return info;
}

function ruleOf(raw: unknown, key: string, ids: Set<string>): ClassificationRule {
  const o: Obj = mapping(raw, key);
  onlyKeys(o, key, ['id', 'match', 'category', 'permanent', 'scope', 'fix']);
  const id = str(o.id, `${key}.id`);
  if (ids.has(id)) fail(`${key}.id`, `"${id}" is duplicated`);
  ids.add(id);
  const m = mapping(o.match, `${key}.match`);
  onlyKeys(m, `${key}.match`, ['provider', 'phase', 'code', 'enhanced', 'text']);
  const match: ClassificationRule['match'] = {};
  if (m.provider !== undefined) match.provider = oneOrMore(m.provider).map((p, j) => str(p, `${key}.match.provider[${j}]`));
  if (m.phase !== undefined) match.phase = oneOrMore(m.phase).map((p, j) => oneOf(p, `${key}.match.phase[${j}]`, PHASES));
  if (m.code !== undefined) match.code = oneOrMore(m.code).map((v, j) => num(v, `${key}.match.code[${j}]`, 200, 599));
  if (m.enhanced !== undefined) match.enhanced = regex(m.enhanced, `${key}.match.enhanced`);
  if (m.text !== undefined) match.text = regex(m.text, `${key}.match.text`);
  if (Object.keys(match).length === 0) fail(`${key}.match`, 'needs at least one of provider, phase, code, enhanced, text');
  const rule: ClassificationRule = { id, match, category: oneOf(o.category, `${key}.category`, REPLY_CATEGORIES) };
  if (o.permanent !== undefined) rule.permanent = bool(o.permanent, `${key}.permanent`);
  if (o.scope !== undefined) rule.scope = oneOf(o.scope, `${key}.scope`, REPLY_SCOPES);
  const fix = fixOf(o.fix, `${key}.fix`);
  if (fix) rule.fix = fix;
  return rule;
}

function classificationOf(doc: unknown): Classification {
  const root = mapping(doc, '(root)');
  onlyKeys(root, '', ['categories', 'rules']);
  const cats = mapping(root.categories, 'categories');
  onlyKeys(cats, 'categories', REPLY_CATEGORIES);
  const categories = {} as Record<ReplyCategory, CategoryInfo>;
  for (const name of REPLY_CATEGORIES) {
    if (cats[name] === undefined) fail(`categories.${name}`, 'is required');
    categories[name] = categoryOf(cats[name], `categories.${name}`);
  }
  const ids = new Set<string>();
  const rules = list(root.rules, 'rules').map((r, i) => ruleOf(r, `rules[${i}]`, ids));
  return { categories, rules };
}

/** Validate a parsed classification.yaml: every category described, rules well formed. */
export function parseClassification(doc: unknown, source = 'classification.yaml'): Classification {
  return inFile(source, () => classificationOf(doc));
}

/** Read and validate config/classification.yaml (or another file). */
export function loadClassification(path?: string): Classification {
  return loadDataFile('classification.yaml', parseClassification, path);
}

/** The classifier of a classification file (default: the bundled one). */
export function loadReplyClassifier(path?: string): ReplyClassifier {
  return createReplyClassifier(loadClassification(path));
}
