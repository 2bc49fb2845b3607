/**
 * The shape in which a service publishes its routes to its peers. It travels on the wire, so it
 * holds plain data only.
 */

/** One callable route: one method of one path, with the names a caller may use for it. */
export interface RouteDescriptor {
  /** Uppercase HTTP method (`GET`). */
  method: string;
  /** The full path as the app declared it, mount prefixes included (`/api/users/:id`). */
  path: string;
  /** Call names, best first: the handler's own function name, then the derived name. */
  names: string[];
  /**
   * Present only on routes whose handler function answers other routes of this instance too (a
   * path array, one function registered on several paths): the same small number on each of
   * them, unique within the instance. A name such routes share is one call with alternatives,
   * not an ambiguity. Peers that send no number have distinct handlers.
   */
  handler?: number;
}
