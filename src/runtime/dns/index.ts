import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Every address the system resolver gives for `hostname` (getaddrinfo: /etc/hosts, then DNS), in
 * its order, without duplicates. An IP literal is returned as it is, with no lookup. Empty when
 * the name does not resolve (or the runtime may not resolve it): the caller falls back to the
 * name itself.
 */
export async function resolveAddresses(hostname: string): Promise<string[]> {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare) !== 0) return [bare];
  try {
    const found = await lookup(bare, { all: true });
    return [...new Set(found.map((entry) => entry.address))];
  } catch {
    return [];
  }
}
