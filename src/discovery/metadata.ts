/**
 * An instance's labels (`metadata`) and its `zone`: the limits, and the one check both the options
 * and the wire use (docs/metadata.md). A label set is stored as a frozen object without a
 * prototype, so a key from the wire (`constructor`, say) can never reach `Object.prototype`.
 */

/** The most labels an instance may carry, the longest key and value, and their total size. */
export const METADATA_LIMITS = { keys: 16, keyLength: 63, valueLength: 256, totalLength: 2048, zoneLength: 63 } as const;

/** A letter, then letters, digits, `_`, `.` or `-`: 1–63 characters. */
const KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;
/** A letter or digit, then letters, digits, `_`, `.` or `-`: 1–63 characters (`eu-west-1a`). */
const ZONE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/**
 * Control characters would rewrite a terminal that shows the value (`express-micro status`), and
 * invisible or direction-changing ones would make it read as something else.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

/** The label set of an instance that has none: shared, frozen. */
export const NO_METADATA: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

/** A checked label set, or what is wrong with it: the field (`metadata` or `metadata.<key>`) and why. */
export type ParsedMetadata = { metadata: Readonly<Record<string, string>> } | { field: string; message: string };

/**
 * Checks a label set and returns it as a frozen object without a prototype, or the first problem.
 * Never stringifies the whole value: one from the wire may be deeply nested.
 */
export function parseMetadata(value: unknown): ParsedMetadata {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { field: 'metadata', message: 'must be an object of string labels' };
  const keys = Object.keys(value);
  if (keys.length > METADATA_LIMITS.keys) return { field: 'metadata', message: `has ${keys.length} labels; at most ${METADATA_LIMITS.keys} are allowed` };
  if (keys.length === 0) return { metadata: NO_METADATA };
  const parsed = Object.create(null) as Record<string, string>;
  let total = 0;
  for (const key of keys) {
    if (!KEY.test(key)) {
      return { field: 'metadata', message: `has a bad key ${JSON.stringify(key.slice(0, 80))}: keys are 1–${METADATA_LIMITS.keyLength} letters, digits, "_", "." or "-", starting with a letter` };
    }
    const label = (value as Record<string, unknown>)[key];
    if (typeof label !== 'string') return { field: `metadata.${key}`, message: 'must be a string' };
    if (label.length > METADATA_LIMITS.valueLength) return { field: `metadata.${key}`, message: `is ${label.length} characters long; at most ${METADATA_LIMITS.valueLength} are allowed` };
    if (CONTROL.test(label)) return { field: `metadata.${key}`, message: 'holds a control character' };
    total += key.length + label.length;
    parsed[key] = label;
  }
  if (total > METADATA_LIMITS.totalLength) return { field: 'metadata', message: `is ${total} characters in all (keys and values); at most ${METADATA_LIMITS.totalLength} are allowed` };
  return { metadata: Object.freeze(parsed) };
}

/** True when `value` is a usable zone name. */
export function isZone(value: unknown): value is string {
  return typeof value === 'string' && ZONE.test(value);
}

/** The rule a zone follows, for error messages. */
export const ZONE_RULE: string = `1–${METADATA_LIMITS.zoneLength} letters, digits, "_", "." or "-", starting with a letter or digit`;
