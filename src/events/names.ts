/**
 * The syntax of event and group names, checked where a name enters: `subscribe`, `emit`,
 * `broadcast` (an OptionError naming the argument) and every peer's descriptor and delivery
 * (refused as malformed). Names travel in URLs, stream keys and metric labels: a short, plain
 * alphabet keeps all three safe.
 */

/** An event name: a letter or digit, then up to 99 of letters, digits and `. _ : -` (`order.created`). */
export const EVENT_NAME: RegExp = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/** A group name: like a service name (the default group is the subscribing service's name). */
export const GROUP_NAME: RegExp = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The most subscriptions an instance may publish (a descriptor from a peer with more is refused). */
export const MAX_SUBSCRIPTIONS = 256;

/** Whether `value` is a valid event name. */
export function isEventName(value: unknown): value is string {
  return typeof value === 'string' && EVENT_NAME.test(value);
}

/** Whether `value` is a valid group name. */
export function isGroupName(value: unknown): value is string {
  return typeof value === 'string' && GROUP_NAME.test(value);
}
