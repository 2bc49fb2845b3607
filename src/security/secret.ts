import { OptionError } from '../errors/index.ts';
import { readEnv, readOrCreateSecretFile, SecretFileError } from '../runtime/index.ts';

/** The environment variable that, when set, holds the shared secret and wins over everything else. */
export const SECRET_ENV = 'EXPRESS_DISCOVERY_KEY';

/** The fewest characters a secret from the environment or the `secret` option may have. */
export const MIN_SECRET_LENGTH = 16;

// Printable ASCII without spaces at either end: the secret travels in an `Authorization`
// header, where other bytes are refused or mangled and HTTP strips surrounding spaces.
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

function checkGiven(secret: string, source: string): string {
  // Messages say where the secret came from and what is wrong with it, never what it is.
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new OptionError('secret', `(from ${source}) is shorter than ${MIN_SECRET_LENGTH} characters`);
  }
  if (!HEADER_SAFE.test(secret)) {
    throw new OptionError(
      'secret',
      `(from ${source}) must be printable ASCII without spaces at its start or end, since it is sent in an HTTP header`,
    );
  }
  return secret;
}

/**
 * The shared secret of the cluster: `EXPRESS_DISCOVERY_KEY` when set and not empty, else the
 * `secret` option, else the per-user file in the OS temp folder (created on first use). Throws
 * `OptionError('secret', …)` for a secret shorter than 16 characters or unfit for a header, and
 * for a secret file that must not be trusted (the `SecretFileError` is the `cause`). No message
 * contains the secret. `secretFile` is where the file is looked for (tests point it elsewhere); its default is
 * worked out only when the file is needed, since on Deno that takes `--allow-sys=uid`.
 */
export function resolveSecret(option: string | undefined, secretFile?: string): string {
  const fromEnv = readEnv(SECRET_ENV);
  if (fromEnv !== undefined && fromEnv !== '') return checkGiven(fromEnv, `the ${SECRET_ENV} environment variable`);
  if (option !== undefined) {
    if (typeof option !== 'string') throw new OptionError('secret', `must be a string, not ${typeof option}`);
    return checkGiven(option, 'the `secret` option');
  }
  try {
    return readOrCreateSecretFile(secretFile);
  } catch (error) {
    if (error instanceof SecretFileError) throw new OptionError('secret', error.message, error);
    const reason = error instanceof Error ? error.message : String(error);
    throw new OptionError('secret', `could not be read from or created in the secret file: ${reason}`, error);
  }
}
