/** `${VAR}` substitution in configuration strings (secrets such as Listmonk tokens stay out of YAML). */

export class MissingEnvError extends Error {
  constructor(readonly variable: string) {
    super(`environment variable ${variable} is not set`);
  }
}

/** Replace every ${NAME} with its environment value; "$${" yields a literal "${". */
export function substituteEnv(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => {
    if (m.startsWith('$$')) return m.slice(1);
    const v = env[name];
    if (v === undefined) throw new MissingEnvError(name);
    return v;
  });
}
