import { defineConfig } from 'tsup';

// One entry with a single default export: with cjsInterop + splitting, require('express-micro')
// returns the function itself (see TOOLCHAIN.md). removeNodeProtocol: false keeps `node:` imports.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  cjsInterop: true,
  splitting: true,
  clean: true,
  sourcemap: false,
  target: 'node20',
  platform: 'node',
  removeNodeProtocol: false,
  external: ['undici', 'proxy-addr'],
});
