/**
 * Security: the shared secret, bearer tokens, HMAC request signing with replay protection, the
 * client address allow-list, and the middleware that accepts only signed calls.
 */
export { clientAddress, compileAllowList, type AllowList } from './allow-list.ts';
export { bearerHeader, bearerSecretIndex, checkBearer } from './bearer.ts';
export {
  bodyMatches,
  createVerifier,
  DEFAULT_MAX_NONCES,
  DEFAULT_WINDOW_MS,
  SIGNATURE_HEADERS,
  signRequest,
  type InstanceClaim,
  type Verifier,
  type VerifierOptions,
  type VerifyResult,
} from './hmac.ts';
export { digestSignedBody, requireSignature, type RequireSignatureOptions } from './middleware.ts';
export { bodyConsumed, DEFAULT_BODY_LIMIT, DISCARD_PAST_LIMIT, readRawBody, type RawBodyResult } from './raw-body.ts';
export { MAX_SECRETS, MIN_SECRET_LENGTH, PREVIOUS_SECRET_ENV, resolveSecret, resolveSecrets, SECRET_ENV } from './secret.ts';
