import proxyaddr from 'proxy-addr';
import type { IncomingRequest } from '../express.ts';
import { OptionError } from '../errors/index.ts';

/** Tells whether a client address is allowed. An unknown (undefined) address never is. */
export type AllowList = (address: string | undefined) => boolean;

/**
 * Compiles the `ipWhitelist` option: IPv4 and IPv6 addresses and CIDR ranges (proxy-addr's
 * names `loopback`, `linklocal` and `uniquelocal` work too). An IPv4-mapped IPv6 address
 * (`::ffff:10.0.0.1`) matches its IPv4 form. An undefined or empty list gives undefined:
 * everyone is allowed. Throws `OptionError('ipWhitelist', …)` naming the first bad entry.
 */
export function compileAllowList(entries: readonly string[] | undefined): AllowList | undefined {
  if (entries === undefined) return undefined;
  if (!Array.isArray(entries)) throw new OptionError('ipWhitelist', 'must be an array of IP addresses or CIDR ranges');
  if (entries.length === 0) return undefined;
  const ranges: string[] = [];
  for (const entry of entries) {
    // Compile one by one so that the error names the entry at fault.
    let valid = typeof entry === 'string';
    if (valid) {
      try {
        const halves = splitWholeRange(entry);
        proxyaddr.compile(halves);
        ranges.push(...halves);
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      throw new OptionError('ipWhitelist', `has an entry that is not an IP address or CIDR range: ${JSON.stringify(String(entry))}`);
    }
  }
  const matches = proxyaddr.compile(ranges);
  return (address) => typeof address === 'string' && address !== '' && matches(address, 0);
}

/**
 * proxy-addr refuses a /0 prefix, yet `0.0.0.0/0` and `::/0` are valid CIDR ranges: a /0 is
 * written as its two /1 halves, after checking that its address part is an address.
 */
function splitWholeRange(entry: string): string[] {
  const match = /^(.+)\/0$/.exec(entry);
  if (!match) return [entry];
  proxyaddr.compile(match[1] as string); // throws for a bad address part
  return (match[1] as string).includes(':') ? ['::/1', '8000::/1'] : ['0.0.0.0/1', '128.0.0.0/1'];
}

/**
 * The client's address as the app sees it. Express computes `request.ip` from the socket and
 * honours the app's `trust proxy` setting, so `X-Forwarded-For` counts only when the app trusts
 * the proxy in front of it. Before Express has set `ip` (discovery is served ahead of the app's
 * router), the same is computed with proxy-addr and the app's compiled `trust` function; without
 * either, the socket's own address is used.
 */
export function clientAddress(request: IncomingRequest, trust?: unknown): string | undefined {
  if (request.ip !== undefined) return request.ip;
  if (typeof trust === 'function') return proxyaddr(request as Parameters<typeof proxyaddr>[0], trust as (address: string, index: number) => boolean);
  return request.socket.remoteAddress;
}
