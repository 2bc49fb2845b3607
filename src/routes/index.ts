/**
 * The routes part: reads an Express 4 or 5 app's routes and names them (DESIGN.md §4).
 */

export { readRoutes } from './read.ts';
export { deriveName } from './names.ts';
export type { RouteDescriptor } from './types.ts';
