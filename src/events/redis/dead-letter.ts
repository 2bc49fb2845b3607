/**
 * The dead-letter stream: where an entry goes once its handler failed `maxAttempts` times (or it
 * cannot be read as an event), so that one poison event does not block its group, and is kept
 * for a person to look at and replay (docs/events-redis.md, "Dead letters").
 */
import type { RedisConnection, RedisEntry } from '../../runtime/redis/index.ts';
import { deadLetterKey } from './keys.ts';

/** The longest error text kept in a dead letter: enough for a message and the start of a stack. */
const MAX_ERROR_TEXT = 4096;

/** What a dead letter records besides the original entry. */
export interface DeadLetter {
  /** The group whose handler gave up. */
  group: string;
  /** How many deliveries it had (the last attempt's number). */
  attempts: number;
  /** The last error's message (or why the entry could not be read). */
  error: string;
}

/**
 * Appends `entry` to `<prefix>:<event>:dead`: its original fields, then `group`, `attempts`,
 * `error` and `entry` (the original entry id). The caller acknowledges the original only after
 * this resolved, so a dead letter can be written twice (a crash in between) but never lost.
 */
export async function deadLetter(connection: RedisConnection, prefix: string, event: string, maxLength: number, entry: RedisEntry, letter: DeadLetter): Promise<string> {
  const fields: [string, string][] = [];
  const added = new Set(['group', 'attempts', 'error', 'entry']);
  for (const [name, value] of entry.fields ?? []) if (!added.has(name)) fields.push([name, value]);
  fields.push(['group', letter.group], ['attempts', String(letter.attempts)], ['error', letter.error.slice(0, MAX_ERROR_TEXT)], ['entry', entry.id]);
  return connection.xadd(deadLetterKey(prefix, event), maxLength, fields);
}

/** The text a dead letter keeps of a handler's failure. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
