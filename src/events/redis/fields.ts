/**
 * An event as a stream entry and back: the {@link EventMessage} fields, the payload as JSON text,
 * the time as decimal text, absent trace fields left out. Reading checks every field as a
 * cluster delivery is checked (`parseEventMessage`): a stream is written by anyone who can reach
 * Redis, so an entry is wire input.
 */
import type { RedisFields } from '../../runtime/redis/index.ts';
import type { EventMessage } from '../types.ts';
import { parseEventMessage } from '../wire.ts';

/** The entry fields of `message`; throws when its payload is not JSON-serialisable (a BigInt, a cycle, a function). */
export function toFields(message: EventMessage): RedisFields {
  const payload = JSON.stringify(message.payload);
  if (payload === undefined) throw new TypeError('the payload is not JSON (a function, a symbol or undefined)');
  const fields: [string, string][] = [
    ['id', message.id],
    ['event', message.event],
    ['emitter', message.emitter],
    ['from', message.from],
    ['time', String(message.time)],
    ['payload', payload],
  ];
  if (message.traceparent !== undefined) fields.push(['traceparent', message.traceparent]);
  if (message.tracestate !== undefined) fields.push(['tracestate', message.tracestate]);
  return fields;
}

/** The event an entry holds, or a string saying what is wrong with it (it is then dead-lettered unrun). */
export function fromFields(fields: ReadonlyMap<string, string>): EventMessage | string {
  const time = fields.get('time');
  if (time === undefined || !/^\d{1,16}$/.test(time)) return 'time is not a time';
  const text = fields.get('payload');
  if (text === undefined) return 'payload is missing';
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return 'payload is not JSON';
  }
  return parseEventMessage({
    id: fields.get('id'),
    event: fields.get('event'),
    emitter: fields.get('emitter'),
    from: fields.get('from'),
    time: Number(time),
    payload,
    traceparent: fields.get('traceparent'),
    tracestate: fields.get('tracestate'),
  });
}
