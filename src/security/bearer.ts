import { constantTimeEqual } from '../runtime/index.ts';

const SCHEME = 'bearer ';

/** The `Authorization` header value that carries `secret`: `Bearer <secret>`. */
export function bearerHeader(secret: string): string {
  return `Bearer ${secret}`;
}

/**
 * Whether an `Authorization` header carries `secret` as `Bearer <secret>`. The scheme is
 * case-insensitive and followed by exactly one space; the token is compared in constant time.
 * A missing, empty or malformed header is false.
 */
export function checkBearer(secret: string, authorization: string | undefined): boolean {
  if (typeof authorization !== 'string' || authorization.length <= SCHEME.length) return false;
  if (authorization.slice(0, SCHEME.length).toLowerCase() !== SCHEME) return false;
  return constantTimeEqual(authorization.slice(SCHEME.length), secret);
}
