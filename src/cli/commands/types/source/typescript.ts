/**
 * Loads the TypeScript compiler for `--app`. It is an optional peer dependency: only this command
 * needs it, and only when it reads sources, so the library never imports it.
 */
import type * as TS from 'typescript';
import { CliError } from '../../../errors.ts';

/** The compiler API, as `import ts from 'typescript'` gives it. */
export type TypeScript = typeof TS;

const INSTALL = 'npm install --save-dev typescript';

/** The project's TypeScript, or a {@link CliError} saying how to install it. */
export async function loadTypeScript(): Promise<TypeScript> {
  let loaded: { default?: TypeScript } & Partial<TypeScript>;
  try {
    loaded = (await import('typescript')) as { default?: TypeScript } & Partial<TypeScript>;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new CliError(`--app reads the service's source with the TypeScript compiler, which is not installed here (${INSTALL})`);
    }
    throw new CliError(`--app could not load TypeScript: ${(error as Error)?.message ?? String(error)}`, undefined, { cause: error });
  }
  // TypeScript is CommonJS: its API arrives as the default export.
  const ts = (loaded.default ?? loaded) as TypeScript;
  if (typeof ts.createProgram !== 'function' || typeof ts.version !== 'string') {
    throw new CliError(`--app needs the TypeScript compiler API (typescript 5), and the installed typescript does not offer it (${INSTALL})`);
  }
  return ts;
}
