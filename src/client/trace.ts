/**
 * W3C Trace Context (level 1) for calls: a request that arrives with a valid `traceparent` hands
 * its trace to the calls its handlers make, each with the same trace id and flags, a fresh parent
 * id and the `tracestate` as received. Nothing is recorded here (no spans): this is propagation
 * only, so a request without a trace makes calls without one. See docs/ARCHITECTURE.md, "A call".
 */
import { randomHex } from '../runtime/index.ts';

/** The header that carries the trace id, the caller's span id and the flags. */
export const TRACEPARENT_HEADER = 'traceparent';
/** The header that carries vendors' trace data, passed on only with a valid `traceparent`. */
export const TRACESTATE_HEADER = 'tracestate';

/** The trace of a request being served, ready to be stamped on the calls it makes. */
export interface IncomingTrace {
  /** `00-<trace id>-`: every outgoing `traceparent` starts with it. */
  readonly prefix: string;
  /** `-<flags>`: every outgoing `traceparent` ends with it. */
  readonly suffix: string;
  /** The parent id the request arrived with (the caller's span). */
  readonly parentId: string;
  /** The trace id, 32 lowercase hex digits. */
  readonly traceId: string;
  /** The flags, two lowercase hex digits. */
  readonly flags: string;
  /** The `tracestate` to pass on, or undefined when there was none or it was invalid. */
  readonly tracestate: string | undefined;
}

/** A version 00 header is exactly this long; a later version is at least this long. */
const VERSION_00_LENGTH = 55;
/** The longest `traceparent` of a later version we read; longer ones are ignored. */
const MAX_TRACEPARENT = 512;
const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const LATER_VERSION = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_PARENT = '0000000000000000';

/** At most this many list members; more and the whole `tracestate` is discarded (the spec's MUST). */
const MAX_MEMBERS = 32;
/** The combined length we pass on; past it, members are dropped as the spec says (below). */
const MAX_TRACESTATE = 512;
/** Members longer than this are the first dropped when the whole is too long. */
const LONG_MEMBER = 128;
/** A raw `tracestate` longer than this cannot hold 32 valid members and is discarded unread. */
const MAX_RAW_TRACESTATE = 32 * 513 + 31 * 8;
const MEMBER = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Reads a request's `traceparent` strictly: version 00 exactly; a later version (not `ff`) by its
 * first four fields when they follow version 00's rules; lowercase hex only; neither id all zeros.
 * Anything else, a repeated header included, is no trace at all. Returns undefined for no trace.
 */
export function readTrace(traceparent: string | string[] | undefined, tracestate: string | string[] | undefined): IncomingTrace | undefined {
  if (typeof traceparent !== 'string') return undefined; // absent, or repeated (an array): invalid
  let traceId: string;
  let parentId: string;
  let flags: string;
  if (traceparent.length === VERSION_00_LENGTH) {
    const match = VERSION_00.exec(traceparent);
    if (!match) return undefined;
    [, traceId, parentId, flags] = match as unknown as [string, string, string, string];
  } else {
    // A later version may append fields; what it must keep are the first four, as 00 has them.
    if (traceparent.length < VERSION_00_LENGTH || traceparent.length > MAX_TRACEPARENT) return undefined;
    const match = LATER_VERSION.exec(traceparent);
    if (!match || match[1] === '00' || match[1] === 'ff') return undefined;
    [, , traceId, parentId, flags] = match as unknown as [string, string, string, string, string];
    // Of a later version's flags only the sampled bit is known here; we send version 00.
    flags = (parseInt(flags, 16) & 1) === 1 ? '01' : '00';
  }
  if (traceId === ZERO_TRACE || parentId === ZERO_PARENT) return undefined;
  return { prefix: `00-${traceId}-`, suffix: `-${flags}`, traceId, parentId, flags, tracestate: readTracestate(tracestate) };
}

/**
 * The `tracestate` to pass on: repeated headers are one list (joined with commas, as the spec
 * says); empty members are skipped; a malformed member, a repeated key or more than 32 members
 * discards it all. Past 512 characters, members over 128 characters go first, then members from
 * the end, until it fits.
 */
function readTracestate(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const raw = typeof value === 'string' ? value : value.join(',');
  if (raw.length > MAX_RAW_TRACESTATE) return undefined;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const part of raw.split(',')) {
    const member = part.replace(/^[ \t]+|[ \t]+$/g, '');
    if (member === '') continue;
    if (!MEMBER.test(member)) return undefined;
    const key = member.slice(0, member.indexOf('='));
    if (keys.has(key)) return undefined;
    keys.add(key);
    members.push(member);
    if (members.length > MAX_MEMBERS) return undefined;
  }
  if (members.length === 0) return undefined;
  let joined = members.join(',');
  if (joined.length <= MAX_TRACESTATE) return joined;
  let kept = members.filter((member) => member.length <= LONG_MEMBER);
  joined = kept.join(',');
  while (joined.length > MAX_TRACESTATE) {
    kept = kept.slice(0, -1);
    joined = kept.join(',');
  }
  return joined === '' ? undefined : joined;
}

/** Stamps a call with the request's trace: same trace id and flags, a new parent id. */
export function writeTrace(trace: IncomingTrace, headers: Record<string, string>): void {
  headers[TRACEPARENT_HEADER] = trace.prefix + randomHex(8) + trace.suffix;
  if (trace.tracestate !== undefined) headers[TRACESTATE_HEADER] = trace.tracestate;
}
