import type { IncomingRequest } from '../express.ts';
import { constantTimeEqual, hmacSha256Hex, randomHex, sha256Hex } from '../runtime/index.ts';

/** The names of the signature headers, lowercase as Node hands them over. */
export const SIGNATURE_HEADERS: {
  readonly timestamp: 'x-micro-timestamp';
  readonly nonce: 'x-micro-nonce';
  readonly bodyHash: 'x-micro-content-sha256';
  readonly signature: 'x-micro-signature';
  readonly audience: 'x-micro-audience';
} = {
  timestamp: 'x-micro-timestamp',
  nonce: 'x-micro-nonce',
  bodyHash: 'x-micro-content-sha256',
  signature: 'x-micro-signature',
  audience: 'x-micro-audience',
};

/** How far a signed timestamp may be from the receiver's clock, by default: 30 s. */
export const DEFAULT_WINDOW_MS = 30_000;

/** How many nonces a verifier remembers at most, by default. */
export const DEFAULT_MAX_NONCES = 100_000;

const TIMESTAMP = /^[0-9]{1,16}$/;
/** The audiences a verifier accepts by default: requests signed for no instance in particular. */
const ANYONE: readonly string[] = [''];
const NONCE = /^[0-9a-fA-F]{16,128}$/;
const HEX_64 = /^[0-9a-fA-F]{64}$/;

/** An instance id as the discovery protocol allows it. */
const ID = /^[A-Za-z0-9_-]{8,64}$/;
const MAX_ID = 64;

/**
 * What an {@link InstanceClaim} signs. The first line cannot be a request's (`canonical` starts
 * with an upper-case method), so a claim is never a valid request signature, nor the reverse.
 */
function claimText(id: string, audience: string, timestamp: string): string {
  return `express-micro instance\n${id}\n${audience}\n${timestamp}`;
}

function canonical(method: string, audience: string, pathWithQuery: string, timestamp: string, nonce: string, bodyHash: string): string {
  return `${method.toUpperCase()}\n${audience}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${bodyHash}`;
}

/**
 * The four signature headers for a request: timestamp (ms since the epoch), a fresh 128-bit
 * nonce, the SHA-256 of the body (its UTF-8 when text, its bytes as they are when bytes; of ''
 * when there is none) and the HMAC-SHA-256 under `secret`
 * of method, audience, path with query, timestamp, nonce and body hash, one per line.
 *
 * The audience is the id of the instance the request is for, sent as `x-micro-audience` when
 * not empty. A receiver that accepts only its own id cannot be sent a request captured on its
 * way to another instance, whose nonce cache is not its own. (The Host header cannot serve: a
 * replayer sets it.) Discovery messages go to URLs before the id behind them is known, and say
 * nothing that is harmful to repeat, so they are signed for the empty audience.
 */
export function signRequest(
  secret: string,
  method: string,
  pathWithQuery: string,
  body: string | Uint8Array | undefined,
  now: number = Date.now(),
  audience: string = '',
): Record<string, string> {
  const timestamp = String(Math.floor(now));
  const nonce = randomHex(16);
  const bodyHash = sha256Hex(body ?? '');
  return {
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.bodyHash]: bodyHash,
    [SIGNATURE_HEADERS.signature]: hmacSha256Hex(secret, canonical(method, audience, pathWithQuery, timestamp, nonce, bodyHash)),
    ...(audience === '' ? undefined : { [SIGNATURE_HEADERS.audience]: audience }),
  };
}

/**
 * Whether `body` (its text, or better its bytes as they arrived) is the body whose hash a
 * verified request carried. Call it once the body has been read, with the `bodyHash` that
 * `verify` returned.
 */
export function bodyMatches(bodyHash: string, body: string | Uint8Array): boolean {
  return constantTimeEqual(sha256Hex(body), bodyHash.toLowerCase());
}

/**
 * What `verify` answers: the signed body hash and the index of the secret that signed it (0 the
 * first, the one this instance sends; above 0 one being rotated out), or a short reason (never
 * a secret).
 */
/**
 * What `verify` found. `signedFor` is set only on a refusal of an authentic request (right
 * secret, fresh timestamp) signed for another instance: the audience it names.
 */
export type VerifyResult = { ok: true; bodyHash: string; secret: number } | { ok: false; reason: string; signedFor?: string };

/**
 * An instance's word, under the cluster's secret, that the process at an address is now `id`:
 * sent with the 401 to a request signed for the process that was there before (a restart in
 * place), so the caller can sign for `id` at once (docs/ARCHITECTURE.md, "Signed calls").
 */
export interface InstanceClaim {
  id: string;
  /** When it was made (ms since the epoch, decimal): it is good for the signature window. */
  timestamp: string;
  /** HMAC-SHA-256 under the first secret of the id, the audience the request named, the timestamp. */
  proof: string;
}

/** Options of `createVerifier`. */
export interface VerifierOptions {
  /** How far, in ms, a timestamp may be before or after the receiver's clock. Default 30 000. */
  windowMs?: number;
  /** How many nonces to remember at most; past that, requests are refused. Default 100 000. */
  maxNonces?: number;
}

/** Checks signed requests and remembers their nonces to refuse replays. */
export interface Verifier {
  /**
   * Checks the signature headers of a request to `pathWithQuery` with `method`, signed for one
   * of `audiences` (default: only the empty audience; see `signRequest`). On success the nonce is remembered until its
   * timestamp leaves the window; the body must then be checked with `bodyMatches(result.bodyHash, body)`.
   */
  verify(method: string, pathWithQuery: string, headers: IncomingRequest['headers'], now?: number, audiences?: readonly string[]): VerifyResult;
  /** This instance's {@link InstanceClaim} to be `id`, for a caller that signed for `audience`. */
  vouch(id: string, audience: string, now?: number): InstanceClaim;
  /**
   * The id an {@link InstanceClaim} names, when it was made under one of the secrets for a request
   * signed for `audience`, within the window, and names another id; undefined otherwise.
   */
  claimed(claim: unknown, audience: string, now?: number): string | undefined;
  /** How many nonces are remembered now. */
  readonly size: number;
}

function single(headers: IncomingRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  // A repeated header arrives as an array (or joined with commas): either way it is refused.
  return typeof value === 'string' ? value : undefined;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

/**
 * A verifier for requests signed with `signRequest` under `secrets` (one, or a list during a
 * rotation: a signature under any of them is good). It refuses missing or
 * malformed headers, timestamps more than `windowMs` away, wrong signatures and nonces it has
 * seen. Only requests whose signature checks out enter the nonce cache, so forged requests
 * cannot fill it; when it is full even after dropping expired nonces, requests are refused.
 */
export function createVerifier(secrets: string | readonly string[], options: VerifierOptions = {}): Verifier {
  const keys = typeof secrets === 'string' ? [secrets] : [...secrets];
  if (keys.length === 0) throw new RangeError('createVerifier needs at least one secret');
  const windowMs = positiveInteger(options.windowMs, DEFAULT_WINDOW_MS, 'windowMs');
  const maxNonces = positiveInteger(options.maxNonces, DEFAULT_MAX_NONCES, 'maxNonces');
  /** nonce → the time after which its timestamp is outside the window. */
  const nonces = new Map<string, number>();
  /** No nonce expires before this time, so pruning earlier would find nothing. */
  let nextExpiry = Number.POSITIVE_INFINITY;

  function prune(now: number): void {
    if (now <= nextExpiry) return;
    nextExpiry = Number.POSITIVE_INFINITY;
    for (const [nonce, expiresAt] of nonces) {
      if (expiresAt < now) nonces.delete(nonce);
      else if (expiresAt < nextExpiry) nextExpiry = expiresAt;
    }
  }

  function verify(
    method: string,
    pathWithQuery: string,
    headers: IncomingRequest['headers'],
    now: number = Date.now(),
    audiences: readonly string[] = ANYONE,
  ): VerifyResult {
    const timestamp = single(headers, SIGNATURE_HEADERS.timestamp);
    const nonce = single(headers, SIGNATURE_HEADERS.nonce);
    const bodyHash = single(headers, SIGNATURE_HEADERS.bodyHash);
    const signature = single(headers, SIGNATURE_HEADERS.signature);
    if (timestamp === undefined) return { ok: false, reason: 'missing or repeated timestamp header' };
    if (nonce === undefined) return { ok: false, reason: 'missing or repeated nonce header' };
    if (bodyHash === undefined) return { ok: false, reason: 'missing or repeated body hash header' };
    if (signature === undefined) return { ok: false, reason: 'missing or repeated signature header' };
    if (!TIMESTAMP.test(timestamp)) return { ok: false, reason: 'malformed timestamp' };
    if (!NONCE.test(nonce)) return { ok: false, reason: 'malformed nonce' };
    if (!HEX_64.test(bodyHash)) return { ok: false, reason: 'malformed body hash' };
    if (!HEX_64.test(signature)) return { ok: false, reason: 'malformed signature' };
    const audience = headers[SIGNATURE_HEADERS.audience] ?? '';
    if (typeof audience !== 'string' || audience.length > MAX_ID) return { ok: false, reason: 'signed for another instance' };
    const foreign = !audiences.includes(audience);

    const signedAt = Number(timestamp);
    const fresh = signedAt >= now - windowMs && signedAt <= now + windowMs;
    if (!fresh && !foreign) return { ok: false, reason: signedAt < now - windowMs ? 'stale timestamp' : 'timestamp in the future' };

    const matched = fresh ? signedUnder(signature, canonical(method, audience, pathWithQuery, timestamp, nonce, bodyHash)) : -1;
    // Refused either way; only a caller that holds the secret learns which instance it reached.
    if (foreign) return matched === -1 ? { ok: false, reason: 'signed for another instance' } : { ok: false, reason: 'signed for another instance', signedFor: audience };
    if (matched === -1) return { ok: false, reason: 'wrong signature' };

    const key = nonce.toLowerCase();
    const seenUntil = nonces.get(key);
    if (seenUntil !== undefined && seenUntil >= now) return { ok: false, reason: 'replayed nonce' };
    if (nonces.size >= maxNonces) prune(now);
    if (nonces.size >= maxNonces) return { ok: false, reason: 'replay cache full' };
    const expiresAt = signedAt + windowMs;
    nonces.set(key, expiresAt);
    if (expiresAt < nextExpiry) nextExpiry = expiresAt;
    return { ok: true, bodyHash: bodyHash.toLowerCase(), secret: matched };
  }

  /** The index of the secret `signature` was made with over `text`, or -1. */
  function signedUnder(signature: string, text: string): number {
    // Every secret is tried, with no early exit: the time taken does not say which one signed.
    const given = signature.toLowerCase();
    let matched = -1;
    for (let index = 0; index < keys.length; index++) {
      if (constantTimeEqual(given, hmacSha256Hex(keys[index] as string, text)) && matched === -1) matched = index;
    }
    return matched;
  }

  function vouch(id: string, audience: string, now: number = Date.now()): InstanceClaim {
    const timestamp = String(Math.floor(now));
    return { id, timestamp, proof: hmacSha256Hex(keys[0] as string, claimText(id, audience, timestamp)) };
  }

  function claimed(claim: unknown, audience: string, now: number = Date.now()): string | undefined {
    if (typeof claim !== 'object' || claim === null) return undefined;
    const { id, timestamp, proof } = claim as Record<string, unknown>;
    if (typeof id !== 'string' || !ID.test(id) || id === audience) return undefined;
    if (typeof timestamp !== 'string' || !TIMESTAMP.test(timestamp) || Math.abs(Number(timestamp) - now) > windowMs) return undefined;
    if (typeof proof !== 'string' || !HEX_64.test(proof)) return undefined;
    return signedUnder(proof, claimText(id, audience, timestamp)) === -1 ? undefined : id;
  }

  return {
    verify,
    vouch,
    claimed,
    get size(): number {
      return nonces.size;
    },
  };
}
