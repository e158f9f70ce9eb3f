import { HttpError } from '../auth.js';
import { ConfigError } from '../../../config/validate.js';

/** Validation errors of the tenant/policy modules become a 400 naming the fields. */
export function configErrorTo400(err: unknown): unknown {
  if (err instanceof ConfigError) return new HttpError(400, err.problems.join('; '));
  return err;
}
