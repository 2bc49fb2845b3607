/** The argument object of a call: path parameters first, the rest goes to the query or body. */
export type CallArguments = Record<string, unknown>;

/** Per-call options, the optional second argument of every call. */
export interface CallOptions {
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Milliseconds this call may take; overrides the `timeout` option. */
  timeout?: number;
  /** Aborts the call; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * For an idempotent call: when the first instance has not answered within the service's
   * observed p95 latency, also ask another, take the first answer, cancel the other. Overrides
   * the `hedge` option.
   */
  hedge?: boolean;
  /**
   * How a 2xx answer is read, overriding its content type: `'json'` parsed, `'text'` a string,
   * `'bytes'` a `Uint8Array` of the exact bytes, `'stream'` a `ReadableStream<Uint8Array>` handed
   * over once the status and headers are in, read at the caller's pace (docs/bodies.md).
   */
  responseType?: ResponseType;
  /**
   * A raw request body, sent as it is instead of the JSON of the arguments (which then fill the
   * path parameters and the query string). Its content type is the `content-type` of `headers`,
   * else a Blob's own type, else `application/octet-stream`. Bytes, text and Blobs can be sent
   * again on a retry; a stream is read once: never retried once it started, never hedged.
   */
  body?: CallBody;
}

/** How a call reads its answer; see {@link CallOptions.responseType}. */
export type ResponseType = 'json' | 'text' | 'bytes' | 'stream';

/**
 * What {@link CallOptions.body} takes: bytes, text, a Blob, or a readable stream (a web
 * `ReadableStream`, a Node `Readable`, or any async iterable of byte chunks).
 */
export type CallBody = Uint8Array | ArrayBuffer | Blob | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Calls one route of a remote service by name. Resolves with the parsed JSON answer, the text
 * answer, `undefined` for 204, or a `Uint8Array` for any other content type; `T` lets the caller
 * say what it expects. With `responseType: 'bytes'` it is typed `Uint8Array`, with `'stream'`
 * `ReadableStream<Uint8Array>`, with `'text'` `string`.
 */
export interface CallFunction {
  /** The answer's exact bytes. */
  (args: CallArguments | string | number | undefined, options: CallOptions & { responseType: 'bytes' }): Promise<Uint8Array>;
  /** The answer's body as a stream, read at the caller's pace. */
  (args: CallArguments | string | number | undefined, options: CallOptions & { responseType: 'stream' }): Promise<ReadableStream<Uint8Array>>;
  /** The answer as text. */
  (args: CallArguments | string | number | undefined, options: CallOptions & { responseType: 'text' }): Promise<string>;
  /** The answer decoded by its content type (or parsed as JSON with `responseType: 'json'`). */
  <T = unknown>(args?: CallArguments | string | number, options?: CallOptions): Promise<T>;
}

/** Calls a route by its method and path, for names that are ambiguous or not derivable. */
export interface CallRoute {
  /** The answer's exact bytes. */
  (method: string, path: string, args: CallArguments | undefined, options: CallOptions & { responseType: 'bytes' }): Promise<Uint8Array>;
  /** The answer's body as a stream, read at the caller's pace. */
  (method: string, path: string, args: CallArguments | undefined, options: CallOptions & { responseType: 'stream' }): Promise<ReadableStream<Uint8Array>>;
  /** The answer as text. */
  (method: string, path: string, args: CallArguments | undefined, options: CallOptions & { responseType: 'text' }): Promise<string>;
  /** The answer decoded by its content type (or parsed as JSON with `responseType: 'json'`). */
  <T = unknown>(method: string, path: string, args?: CallArguments, options?: CallOptions): Promise<T>;
}

/** Metadata labels a `$with` client asks for: an instance must carry every one of them. */
export type Selector = Readonly<Record<string, string>>;

/**
 * One service in the `services` proxy: every published call name is a function. `$with(selector)`
 * is the same client restricted to the instances whose metadata match every label of `selector`
 * (`$with({ version: '2' })`); when none of those that serve a call matches, the call fails with
 * `ServiceUnavailableError` before anything is sent.
 */
export type ServiceClient = { $call: CallRoute; $with: (selector: Selector) => ServiceClient } & { readonly [callName: string]: CallFunction };

/** Any service by any name: what `services` is when {@link ServiceRegistry} is empty. */
export type AnyServices = { readonly [serviceName: string]: ServiceClient };

/**
 * The services this program knows by type. Empty by default; add to it with declaration merging
 * (by hand, or with the file `express-micro types` generates) to make `services` precise: known
 * names, known call names, typed arguments and answers. Each entry is an interface of call
 * functions, keyed by the property name the code uses (`userService`, or `'user-service'`):
 *
 * ```ts
 * declare module 'express-micro' {
 *   interface ServiceRegistry {
 *     userService: { getUser(args: { id: string | number }): Promise<{ id: string; name: string }> };
 *   }
 * }
 * ```
 *
 * Known services are plain properties, so they are never `undefined` under
 * `noUncheckedIndexedAccess`. Services not listed stay reachable through the index signature,
 * unless {@link ServiceRegistryOptions} says the registry is closed.
 */
export interface ServiceRegistry {}

/**
 * Settings of {@link ServiceRegistry}, also set by declaration merging. Empty by default. A
 * generated declaration file lists every service of the cluster and adds `closed: true`, so that
 * a service name it does not list fails to compile instead of falling back to the loose type:
 *
 * ```ts
 * declare module 'express-micro' {
 *   interface ServiceRegistryOptions { closed: true }
 * }
 * ```
 */
export interface ServiceRegistryOptions {}

/** A service listed in {@link ServiceRegistry}, with `$call` and `$with` as well. */
export type KnownService<Calls> = Calls & { readonly $call: CallRoute; readonly $with: (selector: Selector) => KnownService<Calls> };

/** The services listed in {@link ServiceRegistry}, each with `$call` and `$with` as well. */
export type KnownServices = { readonly [Name in keyof ServiceRegistry]: KnownService<ServiceRegistry[Name]> };

/**
 * The `services` proxy: `services.userService`, `services['user-service']`, `services.user_service`.
 * Loose while {@link ServiceRegistry} is empty; its services are precise once it lists some, and
 * only they are reachable once {@link ServiceRegistryOptions} has `closed: true`. Two flat checks,
 * evaluated once per program: no recursion for the checker to unfold.
 */
export type Services = [keyof ServiceRegistry] extends [never]
  ? AnyServices
  : ServiceRegistryOptions extends { closed: true }
    ? KnownServices
    : KnownServices & AnyServices;
