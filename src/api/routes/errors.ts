import { HttpError } from '../auth.js';

/** Validation errors of the tenant/policy modules become a 400 naming the fields. */
export function configErrorTo400(err: unknown): unknown {
  if (err instanceof Error && err.name === 'ConfigError') {
    const problems = (err as Error & { problems?: string[] }).problems;
    return new HttpError(400, problems?.length ? problems.join('; ') : err.message);
  }
  return err;
}
