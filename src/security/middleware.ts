import type { IncomingRequest, Middleware, OutgoingResponse } from '../express.ts';
import { clientAddress } from './allow-list.ts';
import { bodyDigestOf, constantTimeEqual, digestBodyAsRead } from '../runtime/index.ts';
import { SIGNATURE_HEADERS, type InstanceClaim, type Verifier } from './hmac.ts';
import { bodyConsumed, DEFAULT_BODY_LIMIT, readRawBody } from './raw-body.ts';

/** Options of `requireSignature`. */
export interface RequireSignatureOptions {
  /** Only clients whose address this allows get in (403 for the others); see `compileAllowList`. */
  allow?: (address: string | undefined) => boolean;
  /** The most body bytes to read; larger bodies get 413. Default 1 MiB. */
  limit?: number;
  /**
   * The audiences accepted, asked per request: this instance's id, so calls signed for another
   * are refused (the id is settled only once the app listens). Default: `['']`. An authentic call
   * signed for another id gets, with its 401, the first audience's signed claim (`InstanceClaim`).
   */
  audiences?: () => readonly string[];
}

/** body-parser's mark that the body has been read (Express 4's parsers then skip the request). */
interface ParsedMark {
  _body?: boolean;
}

function refuse(response: OutgoingResponse, status: number, error: string, reason: string, instance?: InstanceClaim): void {
  if (response.headersSent === true) return;
  response.statusCode = status;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.end(JSON.stringify(instance === undefined ? { error, reason } : { error, reason, instance }));
}

function isJson(request: IncomingRequest): boolean {
  const type = request.headers['content-type'];
  if (typeof type !== 'string') return false;
  const essence = type.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return essence === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(essence);
}

function isText(request: IncomingRequest): boolean {
  const type = request.headers['content-type'];
  const essence = typeof type === 'string' ? (type.split(';', 1)[0]?.trim().toLowerCase() ?? '') : '';
  return essence === '' || essence.startsWith('text/') || essence === 'application/x-www-form-urlencoded' || essence.endsWith('xml');
}

function hasIdentityEncoding(request: IncomingRequest): boolean {
  const encoding = request.headers['content-encoding'];
  return encoding === undefined || (typeof encoding === 'string' && encoding.trim().toLowerCase() === 'identity');
}

/**
 * Starts taking the SHA-256 of a signed request's body as it is read (`runtime/body-digest`), so
 * that `requireSignature()` can check the exact bytes sent even when a body parser read them
 * first. The plugin calls it for every request that carries a signature, ahead of the app's
 * middleware (docs/security.md, "Signed calls and body parsers"); unsigned requests are left alone.
 */
export function digestSignedBody(request: IncomingRequest): void {
  if (request.headers[SIGNATURE_HEADERS.signature] !== undefined) digestBodyAsRead(request);
}

/**
 * A middleware for the app's own routes that lets through only requests signed by the cluster
 * (`enableHmac`): 403 for an address `allow` refuses, 401 `{ error: 'unauthorized', reason }`
 * for a missing, wrong, stale or replayed signature or a body that does not match its hash.
 *
 * It works before or after a body parser (`express.json()`, `urlencoded`, `text`, `raw`; Express 4
 * and 5), and checks the hash of the bytes that were sent either way (see {@link digestSignedBody}):
 * - after a parser that read the body: the parser's `request.body` stands; a body past `limit`
 *   gets 413;
 * - first (or after a parser that skipped the request): it reads the raw body itself (up to
 *   `limit` bytes, 413 past that), and sets `request.body` to the parsed JSON for a JSON content
 *   type, to the text for a text type (or none), to the bytes (a `Uint8Array`) for any other
 *   type, and leaves it alone for an empty body. It marks
 *   the body as read, so body parsers after it do nothing (Express 4 and 5).
 * Content-encoded bodies get 415. On an app `expressMicro()` does not serve, the hash is taken
 * only when it comes first: after a parser there it answers 500 `misconfigured`.
 */
export function requireSignature(verifier: Verifier, options: RequireSignatureOptions = {}): Middleware {
  const limit = options.limit ?? DEFAULT_BODY_LIMIT;
  const allow = options.allow;
  return (request, response, next) => {
    const state = request as IncomingRequest & ParsedMark;
    if (allow !== undefined && !allow(clientAddress(request))) {
      refuse(response, 403, 'forbidden', 'address not allowed');
      return;
    }
    const audiences = options.audiences?.();
    const result = verifier.verify(request.method, request.originalUrl ?? request.url, request.headers, undefined, audiences);
    if (!result.ok) {
      // An authentic call signed for the process that was at this address before a restart in
      // place: say, under the secret, which instance answers now (docs/ARCHITECTURE.md, "Signed calls").
      const self = audiences?.[0];
      const claim = result.signedFor !== undefined && self !== undefined && self !== '' ? verifier.vouch(self, result.signedFor) : undefined;
      refuse(response, 401, 'unauthorized', result.reason, claim);
      return;
    }
    if (!hasIdentityEncoding(request)) {
      refuse(response, 415, 'unsupported media type', 'signed bodies must not be content-encoded');
      return;
    }
    const consumed = bodyConsumed(request);
    const digest = bodyDigestOf(request) ?? (consumed ? undefined : digestBodyAsRead(request));
    if (digest === undefined || (consumed && !digest.ended)) {
      refuse(response, 500, 'misconfigured', 'the body was read before requireSignature() on an app that expressMicro() does not serve: put requireSignature() before the body parser there');
      return;
    }
    const check = (): boolean => {
      if (digest.bytes > limit) {
        refuse(response, 413, 'payload too large', `body larger than ${limit} bytes`);
        return false;
      }
      if (!constantTimeEqual(digest.hex(), result.bodyHash)) {
        refuse(response, 401, 'unauthorized', 'body does not match its signed hash');
        return false;
      }
      return true;
    };
    if (consumed) {
      // A parser in front read it: every byte went through the digest on its way to the parser.
      if (check()) next();
      return;
    }
    readRawBody(request, limit).then(
      (body) => {
        if (!body.ok) {
          refuse(response, body.status, body.status === 413 ? 'payload too large' : 'bad request', body.reason);
          return;
        }
        if (!check()) return;
        if (body.text !== '') {
          if (isJson(request)) {
            try {
              request.body = JSON.parse(body.text);
            } catch {
              refuse(response, 400, 'bad request', 'body is not valid JSON');
              return;
            }
          } else {
            // Text stays text; any other type (an image, a PDF) gets its exact bytes.
            request.body = isText(request) ? body.text : body.bytes;
          }
        }
        // body-parser 1 (Express 4) skips a request whose `_body` is set; body-parser 2
        // (Express 5) skips one whose stream has ended, which it now has.
        state._body = true;
        next();
      },
      (error: unknown) => next(error),
    );
  };
}
