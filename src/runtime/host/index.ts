import { networkInterfaces } from 'node:os';

/** The first non-internal IPv4 address of this machine, else `127.0.0.1`. */
export function detectHost(): string {
  let interfaces: ReturnType<typeof networkInterfaces>;
  try {
    interfaces = networkInterfaces();
  } catch {
    // Deno without --allow-sys=networkInterfaces.
    return '127.0.0.1';
  }
  for (const addresses of Object.values(interfaces)) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}

/** The value of an environment variable, or undefined (also where reading it is not allowed). */
export function readEnv(name: string): string | undefined {
  try {
    return globalThis.process?.env?.[name];
  } catch {
    return undefined;
  }
}
