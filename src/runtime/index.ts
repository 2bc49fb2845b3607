/**
 * The runtime abstraction: the only module that touches `node:*`, fetch, undici, Bun or Deno.
 * Every other part of the library goes through what this file exports (docs/ARCHITECTURE.md,
 * "Invariants").
 */
export { createHttpClient, createStreamingClient, ERROR_BODY_LIMIT, runtimeName, TransportError } from './http/index.ts';
export type { HttpClient, HttpRequest, HttpResponse, LineStreamRequest, RequestBody, StreamingHttpClient, TransportFailure } from './http/index.ts';
export { constantTimeEqual, hmacSha256Hex, randomHex, sha256Hex } from './crypto/index.ts';
export { bodyDigestOf, digestBodyAsRead, type BodyDigest } from './body-digest/index.ts';
export { defaultSecretPath, readOrCreateSecretFile, SecretFileError } from './secret-file/index.ts';
export { detectHost, hostCandidates, readEnv, sourceAddressTowards } from './host/index.ts';
export { answerMember } from './keep-alive/index.ts';
export { after, delay, every, monotonicNow, type Timer } from './timers/index.ts';
export { resolveAddresses } from './dns/index.ts';
export { sharedListenerGroup, stopAccepting } from './workers/index.ts';
export { readTlsMaterial, TlsMaterialError, type ReadTlsOptions, type TlsMaterial } from './tls/index.ts';
export { createRequestContext, type RequestContext } from './context/index.ts';
export { injectActiveSpan, openTelemetry, withRemoteParent, type OpenTelemetryApi, type RemoteParent } from './telemetry/index.ts';
export { exitProcess, onShutdownSignal, signalExitCode, type ShutdownSignal } from './signals/index.ts';
