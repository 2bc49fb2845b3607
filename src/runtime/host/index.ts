import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';

/** This machine's non-internal IPv4 addresses, in the order the system lists its interfaces. */
export function hostCandidates(): string[] {
  let interfaces: ReturnType<typeof networkInterfaces>;
  try {
    interfaces = networkInterfaces();
  } catch {
    // Deno without --allow-sys=networkInterfaces.
    return [];
  }
  const found: string[] = [];
  for (const addresses of Object.values(interfaces)) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) found.push(address.address);
    }
  }
  return found;
}

/** The first non-internal IPv4 address of this machine, else `127.0.0.1`. */
export function detectHost(): string {
  return hostCandidates()[0] ?? '127.0.0.1';
}

/**
 * The local address this machine would send from to reach `host:port`, as its routing table
 * decides: a UDP socket is "connected" (which sends nothing at all) and asked for its own
 * address. Undefined when it cannot tell (no route, a name that does not resolve, a runtime
 * without it) within `timeout` ms.
 */
export function sourceAddressTowards(host: string, port: number, timeout: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let socket: ReturnType<typeof createSocket> | undefined;
    const finish = (address: string | undefined): void => {
      clearTimeout(timer);
      try {
        socket?.close();
      } catch {
        // Already closed.
      }
      resolve(address);
    };
    const timer = setTimeout(() => finish(undefined), timeout);
    try {
      socket = createSocket('udp4');
      socket.on('error', () => finish(undefined));
      socket.connect(port, host, () => {
        try {
          finish(socket?.address().address);
        } catch {
          finish(undefined);
        }
      });
    } catch {
      finish(undefined);
    }
  });
}

/** The value of an environment variable, or undefined (also where reading it is not allowed). */
export function readEnv(name: string): string | undefined {
  try {
    return globalThis.process?.env?.[name];
  } catch {
    return undefined;
  }
}
