/**
 * The base of every error express-micro throws, so `catch (e) { if (e instanceof
 * expressMicro.ExpressMicroError) … }` catches them all. Carries the service and call name where
 * there is one. Messages never contain the shared secret.
 */
export class ExpressMicroError extends Error {
  /** The service the failed operation addressed, if any. */
  readonly service: string | undefined;
  /** The call name (`getUser`) or `METHOD /path`, if any. */
  readonly call: string | undefined;

  /** Made by express-micro; `details` carries the service, the call name and the cause where known. */
  constructor(message: string, details: { service?: string; call?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'ExpressMicroError';
    this.service = details.service;
    this.call = details.call;
  }
}
