import { defineConfig } from 'tsup';

// Two builds of one package. ESM (and JSR, from src/index.ts) has the default export and the
// error classes by name. CommonJS starts from src/cjs.ts, whose only value is the default export:
// with cjsInterop + splitting, require('express-micro') then returns the function itself (one
// named value export would make it an object). removeNodeProtocol: false keeps `node:` imports.
// `npm run build` empties dist/ first, so no build cleans (they run side by side).
// The third build is the `express-micro` bin (dist/cli.js): an entry of its own, so the library's
// entries never import it, and TypeScript (an optional peer, loaded by `types --app` only) stays
// external. tsup keeps the entry's shebang and makes the file executable.
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
  { ...shared, entry: { cli: 'src/cli/bin.ts' }, format: ['esm'], dts: false, external: [...shared.external, 'typescript'] },
]);
