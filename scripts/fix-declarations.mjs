// Post-build step of `npm run build` (after tsup): marks every named export of the bundled
// declarations that the JavaScript does not export as `type`.
//
// Why: the CommonJS build's only runtime export is the function (so that require() returns it;
// see src/cjs.ts), while its declarations name the error classes too; and the declaration
// bundler drops `type` from re-exported classes (rollup-plugin-dts #311). Left alone,
// dist/index.d.cts would claim values that require('express-micro') does not have. The ESM build
// does export the classes by name, so dist/index.d.ts keeps them as values. scripts/check-package
// has consumers that prove both.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const esmNames = new Set(Object.keys(await import(pathToFileURL(`${dist}index.js`).href)));
// CommonJS: module.exports is the function itself, so no named export exists there either.
const cjs = createRequire(import.meta.url)(`${dist}index.cjs`);
if (typeof cjs !== 'function') throw new Error(`dist/index.cjs exports ${typeof cjs}, not the function`);

for (const [file, runtimeNames] of [['index.d.ts', esmNames], ['index.d.cts', new Set()]]) {
  const path = dist + file;
  const text = readFileSync(path, 'utf8');
  // The bundler writes one `export { … };` list (plus `export =` in the .d.cts).
  const lists = [...text.matchAll(/^export (type )?\{([^}]*)\};?$/gm)];
  if (lists.length !== 1) throw new Error(`${file}: expected one export list, found ${lists.length}`);
  const [statement, typeOnly, body] = lists[0];
  if (typeOnly) {
    console.log(`fix-declarations: ${file}: already type-only`);
    continue;
  }
  const fixed = [];
  const specifiers = body
    .split(',')
    .map((specifier) => specifier.trim())
    .filter(Boolean)
    .map((specifier) => {
      if (specifier.startsWith('type ')) return specifier;
      const exported = specifier.split(/\s+as\s+/).pop();
      if (runtimeNames.has(exported)) return specifier;
      fixed.push(exported);
      return `type ${specifier}`;
    });
  writeFileSync(path, text.replace(statement, `export { ${specifiers.join(', ')} };`));
  console.log(`fix-declarations: ${file}: ${fixed.length ? `marked type-only: ${fixed.join(', ')}` : 'nothing to fix'}`);
}
