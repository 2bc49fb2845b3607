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
}

/**
 * Calls one route of a remote service by name. Resolves with the parsed JSON answer, the text
 * answer, or `undefined` for 204; `T` lets the caller say what it expects.
 */
export type CallFunction = <T = unknown>(args?: CallArguments | string | number, options?: CallOptions) => Promise<T>;

/** Calls a route by its method and path, for names that are ambiguous or not derivable. */
export type CallRoute = <T = unknown>(method: string, path: string, args?: CallArguments, options?: CallOptions) => Promise<T>;

/** One service in the `services` proxy: every published call name is a function. */
export type ServiceClient = { $call: CallRoute } & { readonly [callName: string]: CallFunction };

/** The `services` proxy: `services.userService`, `services['user-service']`, `services.user_service`. */
export type Services = { readonly [serviceName: string]: ServiceClient };
