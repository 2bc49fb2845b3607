/** The name of the runtime this process runs on. */
export const runtimeName: 'bun' | 'deno' | 'node' = 'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';
