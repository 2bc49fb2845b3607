import { defineConfig } from 'vitest/config';

// A test's waits are bounded by waitFor (test/support/conditions.ts, 5 s unless told), whose error
// names what it waited for. The test timeout only stops a hang, so it sits above those bounds and
// above a spawned service's start on a busy two-core machine; bun test (scripts/test-all) and the
// Deno shim (test-deno/vitest.ts) use the same 20 s.
export default defineConfig({ test: { testTimeout: 20_000, hookTimeout: 20_000 } });
