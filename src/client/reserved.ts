/**
 * Property names the `services` proxy does not answer, so that `await`, logging and JSON see a
 * plain object. No service or call can be reached by these names, so `express-micro types`
 * leaves them out of what it generates.
 */
export const RESERVED: ReadonlySet<string> = new Set(['then', 'catch', 'finally', 'toJSON', 'constructor', 'inspect', 'asymmetricMatch', 'nodeType', '$$typeof']);
