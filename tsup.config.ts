import { defineConfig } from 'tsup';

// Two builds of one package. ESM (and JSR, from src/index.ts) has the default export and the
// error classes by name. CommonJS starts from src/cjs.ts, whose only value is the default export:
// with cjsInterop + splitting, require('express-micro') then returns the function itself (one
// named value export would make it an object). removeNodeProtocol: false keeps `node:` imports.
// `npm run build` empties dist/ first, so neither build cleans (they run side by side).
const shared = {
  dts: true,
  clean: false,
  sourcemap: false,
  target: 'node20',
  platform: 'node',
  removeNodeProtocol: false,
  external: ['undici', 'proxy-addr'],
} as const;

export default defineConfig([
  { ...shared, entry: { index: 'src/index.ts' }, format: ['esm'] },
  { ...shared, entry: { index: 'src/cjs.ts' }, format: ['cjs'], cjsInterop: true, splitting: true },
]);
