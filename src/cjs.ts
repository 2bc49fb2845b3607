/**
 * The CommonJS entry (dist/index.cjs): the same package as ./index.ts, with the function as its
 * one value, so that `require('express-micro')` returns the function itself (the error classes
 * hang off it: `expressMicro.RemoteError`). A named value export here would make require()
 * return an object instead. Types are exported by name, as in ./index.ts.
 *
 * @module
 */
import expressMicro from './index.ts';

export default expressMicro;
export type * from './index.ts';
