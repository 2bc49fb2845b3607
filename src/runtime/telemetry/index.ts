import { channel } from 'node:diagnostics_channel';
import { runtimeName } from '../http/index.ts';

/**
 * OpenTelemetry, when an SDK has registered it, read without importing `@opentelemetry/api`: the
 * API keeps its registered globals on `globalThis[Symbol.for('opentelemetry.js.api.<major>')]`
 * (`@opentelemetry/api/build/src/internal/global-utils.js`) and the active span in the active
 * context under `Symbol.for('OpenTelemetry Context Key SPAN')` (`trace/context-utils.js`). Both
 * are stable for API major 1. See docs/ARCHITECTURE.md, "A call" (the trace).
 */
const API_KEY: unique symbol = Symbol.for('opentelemetry.js.api.1') as never;
const SPAN_KEY: symbol = Symbol.for('OpenTelemetry Context Key SPAN');
/** Marks the remote parent we put in OpenTelemetry's context (a brand, so two copies agree). */
const REMOTE_PARENT: symbol = Symbol.for('express-micro.remote-parent');

/** OpenTelemetry's `Context`: immutable, keyed by symbols. */
interface OpenTelemetryContext {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): OpenTelemetryContext;
}

/** The parts of an OpenTelemetry `SpanContext` we read or build. */
interface SpanContextShape {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: { serialize(): string } | undefined;
  isRemote?: boolean;
}

/** What the API registers globally (only the members we use; any may be missing). */
export interface OpenTelemetryApi {
  readonly context?: {
    active(): OpenTelemetryContext;
    with<R>(context: OpenTelemetryContext, work: () => R): R;
  };
  readonly propagation?: {
    inject(context: OpenTelemetryContext, carrier: Record<string, string>, setter: { set(carrier: Record<string, string>, key: string, value: string): void }): void;
  };
}

/** A trace that arrived with a request, as OpenTelemetry's remote parent. */
export interface RemoteParent {
  readonly traceId: string;
  readonly parentId: string;
  /** Two hex digits. */
  readonly flags: string;
  readonly tracestate: string | undefined;
}

/** OpenTelemetry's registered API, or undefined (the usual case: then this is one property read). */
export function openTelemetry(): OpenTelemetryApi | undefined {
  return (globalThis as { [API_KEY]?: OpenTelemetryApi })[API_KEY];
}

const SETTER = {
  set(carrier: Record<string, string>, key: string, value: string): void {
    carrier[key] = value;
  },
};

const HEX_TRACE = /^[0-9a-f]{32}$/;
const HEX_SPAN = /^[0-9a-f]{16}$/;

function validSpanContext(value: unknown): value is SpanContextShape {
  const context = value as SpanContextShape | undefined;
  return (
    typeof context?.traceId === 'string' && HEX_TRACE.test(context.traceId) && context.traceId !== '00000000000000000000000000000000' &&
    typeof context.spanId === 'string' && HEX_SPAN.test(context.spanId) && context.spanId !== '0000000000000000'
  );
}

/** The active span in OpenTelemetry's active context, or undefined. */
function activeSpan(api: OpenTelemetryApi): { span: { spanContext?: () => unknown } | undefined; context: OpenTelemetryContext | undefined } {
  const context = api.context?.active();
  return { span: context?.getValue(SPAN_KEY) as { spanContext?: () => unknown } | undefined, context };
}

// undici publishes every request it creates here; OpenTelemetry's undici instrumentation (and
// other tracers) subscribe to it to start a client span and inject its headers.
const undiciRequests = runtimeName === 'node' ? channel('undici:request:create') : undefined;
/** Deno's built-in OpenTelemetry (`OTEL_DENO=true`) registers these as the API's globals. */
const denoTelemetry = runtimeName === 'deno' ? (globalThis as { Deno?: { telemetry?: { contextManager?: unknown } } }).Deno?.telemetry : undefined;

/**
 * Whether this runtime's HTTP client injects trace headers by itself, so that ours would be a
 * second `traceparent`: on Node, something subscribes to undici's requests (OpenTelemetry's undici
 * instrumentation); on Deno, Deno's own OpenTelemetry is the registered one (its fetch injects, we
 * measured "ours, its"). Bun's fetch injects nothing. Either way only with a propagator registered.
 */
function clientInstrumented(api: OpenTelemetryApi): boolean {
  if (api.propagation === undefined) return false;
  if (undiciRequests !== undefined) return undiciRequests.hasSubscribers;
  return denoTelemetry !== undefined && denoTelemetry.contextManager === api.context;
}

/**
 * Lets OpenTelemetry carry a call's trace when a span of its own is active (an SDK's server span,
 * or one the app started). Returns true when it does: the headers are then set through the
 * registered propagator, or left to the instrumentation of the HTTP client, which injects them
 * under the client span it starts (so the callee gets exactly one `traceparent`). Returns false
 * when no span is active, or only the remote parent {@link withRemoteParent} installed and nothing
 * instruments the client: the caller then stamps the request's own trace.
 */
export function injectActiveSpan(api: OpenTelemetryApi, headers: Record<string, string>): boolean {
  const { span, context } = activeSpan(api);
  if (span === undefined || context === undefined) return false;
  if ((span as { [REMOTE_PARENT]?: true })[REMOTE_PARENT] === true) return clientInstrumented(api);
  const spanContext = span.spanContext?.();
  if (!validSpanContext(spanContext)) return false;
  if (clientInstrumented(api)) return true;
  if (api.propagation) {
    api.propagation.inject(context, headers, SETTER);
    return true;
  }
  headers.traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  const state = spanContext.traceState?.serialize();
  if (state) headers.tracestate = state;
  return true;
}

/** A `TraceState` as OpenTelemetry's spans keep it: immutable, newest member first. */
class RemoteTraceState {
  readonly #members: ReadonlyArray<readonly [string, string]>;
  constructor(members: ReadonlyArray<readonly [string, string]>) {
    this.#members = members;
  }
  static parse(value: string | undefined): RemoteTraceState | undefined {
    if (value === undefined) return undefined;
    return new RemoteTraceState(value.split(',').map((member) => {
      const equals = member.indexOf('=');
      return [member.slice(0, equals), member.slice(equals + 1)] as const;
    }));
  }
  get(key: string): string | undefined {
    return this.#members.find(([name]) => name === key)?.[1];
  }
  set(key: string, value: string): RemoteTraceState {
    return new RemoteTraceState([[key, value], ...this.#members.filter(([name]) => name !== key)]);
  }
  unset(key: string): RemoteTraceState {
    return new RemoteTraceState(this.#members.filter(([name]) => name !== key));
  }
  serialize(): string {
    return this.#members.map(([name, value]) => `${name}=${value}`).join(',');
  }
}

/** A non-recording span standing for the caller's span, as the API's `NonRecordingSpan` does. */
function remoteSpan(parent: RemoteParent): object {
  const context: SpanContextShape = { traceId: parent.traceId, spanId: parent.parentId, traceFlags: parseInt(parent.flags, 16), traceState: RemoteTraceState.parse(parent.tracestate), isRemote: true };
  const span = {
    [REMOTE_PARENT]: true,
    spanContext: () => context,
    setAttribute: () => span,
    setAttributes: () => span,
    addEvent: () => span,
    addLink: () => span,
    addLinks: () => span,
    setStatus: () => span,
    updateName: () => span,
    end: () => {},
    isRecording: () => false,
    recordException: () => {},
  };
  return span;
}

/**
 * Runs `work` (the app's handling of a request that arrived with a trace) so that OpenTelemetry
 * sees that trace as its remote parent, when an SDK is registered and nothing (an HTTP server
 * instrumentation) has already made a span active: spans the app starts, and the client spans of
 * an instrumented HTTP client, then join the caller's trace instead of starting new ones.
 */
export function withRemoteParent<R>(parent: RemoteParent, work: () => R): R {
  const api = openTelemetry();
  const manager = api?.context;
  if (manager === undefined) return work();
  const active = manager.active();
  if (active.getValue(SPAN_KEY) !== undefined) return work();
  return manager.with(active.setValue(SPAN_KEY, remoteSpan(parent)), work);
}
