import { constantTimeEqual } from '../runtime/index.ts';

const SCHEME = 'bearer ';

/** The `Authorization` header value that carries `secret`: `Bearer <secret>`. */
export function bearerHeader(secret: string): string {
  return `Bearer ${secret}`;
}

/**
 * Which of `secrets` an `Authorization` header carries as `Bearer <secret>`: its index, or -1
 * for none. The scheme is case-insensitive and followed by exactly one space; the token is
 * compared in constant time with every secret, with no early exit, so the time taken does not
 * say which one matched. A missing, empty or malformed header is -1.
 */
export function bearerSecretIndex(secrets: string | readonly string[], authorization: string | undefined): number {
  if (typeof authorization !== 'string' || authorization.length <= SCHEME.length) return -1;
  if (authorization.slice(0, SCHEME.length).toLowerCase() !== SCHEME) return -1;
  const token = authorization.slice(SCHEME.length);
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  let matched = -1;
  for (let index = 0; index < list.length; index++) {
    if (constantTimeEqual(token, list[index] as string) && matched === -1) matched = index;
  }
  return matched;
}

/** Whether an `Authorization` header carries one of `secrets` as `Bearer <secret>` (see {@link bearerSecretIndex}). */
export function checkBearer(secrets: string | readonly string[], authorization: string | undefined): boolean {
  return bearerSecretIndex(secrets, authorization) !== -1;
}
