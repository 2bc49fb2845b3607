/** Listening failed: the port is taken, or the address cannot be bound. */
export class ListenError extends Error {
  override readonly name: string = 'ListenError';
  /** The system's code (`EADDRINUSE`, `EACCES`, …), or `undefined`. */
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}
