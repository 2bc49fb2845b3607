/**
 * The routes part: reads an Express 4 or 5 app's routes and names them (see docs/ARCHITECTURE.md, "Code map").
 */

export { readRoutes } from './read.ts';
export { deriveName } from './names.ts';
export type { RouteDescriptor } from './types.ts';
