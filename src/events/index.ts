export type { DurableBacklog, DurableContext, DurableEvents, RedisEventSettings } from './durable.ts';
export { Events, type EventSettings, type EventsContext } from './events.ts';
export { EVENT_NAME, GROUP_NAME, isEventName, isGroupName, MAX_SUBSCRIPTIONS } from './names.ts';
export type { EmitResult, EventHandler, EventMessage, EventMeta, EventPayload, EventReceipt, EventRegistry, PublishedSubscription, SubscribeOptions } from './types.ts';
export { EVENTS_PATH, parseDeliveryQuery, parseEventMessage } from './wire.ts';
