import { OptionError } from '../errors/index.ts';
import { readEnv, readOrCreateSecretFile, SecretFileError } from '../runtime/index.ts';

/** The environment variable that, when set, holds the shared secret and wins over everything else. */
export const SECRET_ENV = 'EXPRESS_DISCOVERY_KEY';

/**
 * The environment variable that holds the secret being rotated out: accepted beside
 * `EXPRESS_DISCOVERY_KEY`, never sent. Read only when `EXPRESS_DISCOVERY_KEY` is set.
 */
export const PREVIOUS_SECRET_ENV = 'EXPRESS_DISCOVERY_KEY_PREVIOUS';

/** The fewest characters a secret from the environment or the `secret` option may have. */
export const MIN_SECRET_LENGTH = 16;

/**
 * The most secrets one instance accepts: a rotation needs two; each more costs every signed
 * request one more HMAC.
 */
export const MAX_SECRETS = 4;

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

function fromOption(option: string | readonly string[]): string[] {
  if (typeof option === 'string') return [checkGiven(option, 'the `secret` option')];
  if (!Array.isArray(option)) throw new OptionError('secret', `must be a string or an array of strings, not ${typeof option}`);
  if (option.length === 0) throw new OptionError('secret', 'must hold at least one secret (the first signs, every one is accepted)');
  if (option.length > MAX_SECRETS) throw new OptionError('secret', `holds ${option.length} secrets; at most ${MAX_SECRETS} are accepted`);
  const secrets = option.map((secret: unknown, index) => {
    if (typeof secret !== 'string') throw new OptionError('secret', `[${index}] must be a string, not ${typeof secret}`);
    return checkGiven(secret, `the \`secret\` option, entry ${index}`);
  });
  const twice = secrets.findIndex((secret, index) => secrets.indexOf(secret) !== index);
  if (twice !== -1) throw new OptionError('secret', `lists the same secret twice (entries ${secrets.indexOf(secrets[twice] as string)} and ${twice})`);
  return secrets;
}

function fromEnvironment(current: string): string[] {
  const secrets = [checkGiven(current, `the ${SECRET_ENV} environment variable`)];
  const previous = readEnv(PREVIOUS_SECRET_ENV);
  if (previous === undefined || previous === '') return secrets;
  if (previous === current) throw new OptionError('secret', `(from ${PREVIOUS_SECRET_ENV}) is the same as ${SECRET_ENV}`);
  secrets.push(checkGiven(previous, `the ${PREVIOUS_SECRET_ENV} environment variable`));
  return secrets;
}

/**
 * The secrets of the cluster, the one to send first: `EXPRESS_DISCOVERY_KEY` (then
 * `EXPRESS_DISCOVERY_KEY_PREVIOUS`) when set and not empty, else the `secret` option (a string,
 * or a list during a rotation), else the per-user file in the OS temp folder (created on first
 * use). Throws `OptionError('secret', …)` for a secret shorter than 16 characters or unfit for a
 * header, an empty list, one listed twice, `EXPRESS_DISCOVERY_KEY_PREVIOUS` without
 * `EXPRESS_DISCOVERY_KEY`, and a secret file that must not be trusted (the `SecretFileError` is
 * the `cause`). No message contains a secret. `secretFile` is where the file is looked for (tests
 * point it elsewhere); its default is worked out only when the file is needed, since on Deno that
 * takes `--allow-sys=uid`.
 */
export function resolveSecrets(option: string | readonly string[] | undefined, secretFile?: string): string[] {
  const fromEnv = readEnv(SECRET_ENV);
  if (fromEnv !== undefined && fromEnv !== '') return fromEnvironment(fromEnv);
  if ((readEnv(PREVIOUS_SECRET_ENV) ?? '') !== '') {
    // Accepting an old secret beside a file or option the operator did not mean to pair it with
    // would be a surprise; a rotation through the environment names both.
    throw new OptionError('secret', `(from ${PREVIOUS_SECRET_ENV}) is set but ${SECRET_ENV} is not; set both, the new secret in ${SECRET_ENV}`);
  }
  if (option !== undefined) return fromOption(option);
  try {
    return [readOrCreateSecretFile(secretFile)];
  } catch (error) {
    if (error instanceof SecretFileError) throw new OptionError('secret', error.message, error);
    const reason = error instanceof Error ? error.message : String(error);
    throw new OptionError('secret', `could not be read from or created in the secret file: ${reason}`, error);
  }
}

/** The secret this instance sends: the first of {@link resolveSecrets}. */
export function resolveSecret(option: string | readonly string[] | undefined, secretFile?: string): string {
  return resolveSecrets(option, secretFile)[0] as string;
}
