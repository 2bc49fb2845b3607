/**
 * One subscription's consumer: this instance reading one event's stream as one consumer of one
 * group (docs/events-redis.md). It owns a reader connection (its blocking reads hold it), takes
 * slots from the instance's shared {@link Slots} before each read, runs each entry's handlers,
 * acknowledges on success, retries with backoff on failure, dead-letters after `maxAttempts`,
 * claims the entries a crashed consumer of its group left pending, and, after a reconnection,
 * first re-reads its own pending entries so that none delivered just before the drop is stranded.
 */
import type { RedisEventSettings } from '../durable.ts';
import type { EventMessage } from '../types.ts';
import type { Logger } from '../../options.ts';
import type { RedisConnection, RedisEntry } from '../../runtime/redis/index.ts';
import { after } from '../../runtime/index.ts';
import { retryDelay } from './backoff.ts';
import { deadLetter, errorText } from './dead-letter.ts';
import { fromFields } from './fields.ts';
import { streamKey } from './keys.ts';
import type { Slots } from './slots.ts';

/** Runs the handlers of one delivery; resolved: acknowledge; rejected: retry or dead-letter. */
export type DeliveryHandler = (message: EventMessage, attempt: number) => Promise<void>;

/** What every consumer of an instance shares. */
export interface ConsumerShared {
  settings: RedisEventSettings;
  /** This instance's consumer name in every group. */
  consumer: string;
  /** The instance's command connection: acknowledgements, claims, dead letters. */
  commands: RedisConnection;
  slots: Slots;
  logger: Logger;
  retried(event: string, group: string): void;
  deadLettered(event: string, group: string): void;
  claimed(event: string, group: string): void;
}

/** The most entries one read asks for, however many slots are free. */
const READ_BATCH = 64;
/** Pending entries re-read or claimed per round. */
const RECOVER_BATCH = 100;

/** An entry this consumer is working on. */
interface InFlight {
  /** When it was delivered to us (or we last renewed our hold on it), ms on `Date.now()`. */
  since: number;
}

/** The consumer of one (event, group) pair on this instance. */
export class StreamConsumer {
  readonly event: string;
  readonly group: string;
  readonly #stream: string;
  readonly #shared: ConsumerShared;
  readonly #reader: RedisConnection;
  readonly #handle: DeliveryHandler;
  /** Entries being handled (or waiting for a retry) here, by id. */
  readonly #inFlight = new Map<string, InFlight>();
  /** Entries handled whose acknowledgement failed (Redis went away): acknowledged once it is back, not run again. */
  readonly #unacked = new Set<string>();
  readonly #tasks = new Set<Promise<void>>();
  /** Wakes the retry waits on close: entries waiting for a retry are left pending. */
  readonly #sleepers = new Set<() => void>();
  /** How often (ms) we look for entries another consumer left idle, and renew our hold on ours. */
  readonly #claimEvery: number;
  #stopping = false;
  /** The reader's CLIENT ID while it is in a blocking read (for CLIENT UNBLOCK on close). */
  #blockedId: number | undefined;
  #readerId: number | undefined;
  /** Set on every reconnection: re-read our own pending entries before reading new ones. */
  #recover = true;
  #groupReady = false;
  #claimCursor = '0-0';
  #nextClaim = 0;
  #loop: Promise<void> | undefined;
  readonly #warned = new Set<string>();
  /** Resolved by {@link StreamConsumer.stop}: ends a wait for the reader to come back. */
  readonly #stopped: Promise<void>;
  #stop: () => void = () => {};
  /**
   * Resolves once the group exists on the stream (or the consumer stopped): from then on, every
   * entry added is the group's. An emit from this process waits for it, so an event emitted
   * right after `subscribe` reaches the new group.
   */
  readonly groupReady: Promise<void>;
  #groupCreated: () => void = () => {};

  /** Starts nothing: {@link StreamConsumer.start} does. */
  constructor(event: string, group: string, shared: ConsumerShared, reader: RedisConnection, handle: DeliveryHandler) {
    this.event = event;
    this.group = group;
    this.#stream = streamKey(shared.settings.prefix, event);
    this.#shared = shared;
    this.#reader = reader;
    this.#handle = handle;
    this.#claimEvery = Math.min(5000, Math.max(50, Math.floor(shared.settings.claimIdle / 2)));
    this.#stopped = new Promise((resolve) => {
      this.#stop = resolve;
    });
    this.groupReady = new Promise((resolve) => {
      this.#groupCreated = resolve;
    });
    void this.#stopped.then(() => this.#groupCreated());
    reader.onStatus((status) => {
      if (status === 'up') {
        this.#recover = true;
        this.#readerId = undefined;
      }
    });
  }

  /** Starts the read loop. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Stops reading (a blocked read is released with CLIENT UNBLOCK, so no entry is handed to us
   * as we leave), wakes the retry waits (those entries stay pending, for a consumer to claim),
   * waits for the handlers running, and their acknowledgements. Leaves the reader open.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stop();
    for (const wake of this.#sleepers) wake();
    const loop = this.#loop ?? Promise.resolve();
    let done = false;
    void loop.finally(() => {
      done = true;
    });
    // A read sent just before the unblock reached Redis would block its full time: unblock again
    // until the loop is out (bounded by the block time itself).
    while (!done) {
      const id = this.#blockedId;
      if (id !== undefined && this.#shared.commands.ready) await this.#shared.commands.clientUnblock(id).catch(() => {});
      await Promise.race([loop, this.#sleep(25, true)]);
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /** Entries pending for our group on this stream and not yet delivered to it. */
  async backlog(): Promise<{ pending: number; lag: number }> {
    const groups = await this.#shared.commands.xinfoGroups(this.#stream);
    const info = groups.find((group) => group.name === this.group);
    return { pending: info?.pending ?? 0, lag: info?.lag ?? Number.NaN };
  }

  async #run(): Promise<void> {
    const block = this.#claimEvery;
    let failures = 0;
    while (!this.#stopping) {
      if (!this.#reader.ready) {
        this.#recover = true;
        await Promise.race([this.#reader.whenReady(), this.#stopped]);
        continue;
      }
      try {
        if (!this.#groupReady) {
          await this.#reader.xgroupCreate(this.#stream, this.group);
          this.#groupReady = true;
          this.#groupCreated();
        }
        if (this.#unacked.size > 0) await this.#flushAcks();
        if (this.#recover) {
          await this.#recoverOwn();
          this.#recover = false;
        }
        if (Date.now() >= this.#nextClaim) {
          this.#nextClaim = Date.now() + this.#claimEvery;
          await this.#renewHold();
          await this.#claimIdle();
        }
        await this.#readNew(block);
        failures = 0;
      } catch (error) {
        this.#blockedId = undefined;
        if (this.#stopping) break;
        const message = errorText(error);
        // Redis restarted without its data: the group is gone. Make it again (from new entries on).
        if (message.startsWith('NOGROUP')) this.#groupReady = false;
        else if (this.#reader.ready && !this.#warned.has(message)) {
          this.#warned.add(message);
          this.#shared.logger.warn(`express-micro: reading event ${this.event} for group ${this.group} failed: ${message}`);
        }
        this.#recover = true;
        failures++;
        await this.#sleep(Math.min(2000, 50 * 2 ** Math.min(failures, 6)), true);
      }
    }
  }

  /** Blocks for new entries (as many as there are free slots, up to a batch) and starts each. */
  async #readNew(block: number): Promise<void> {
    const taken = await this.#shared.slots.take(READ_BATCH);
    if (taken === 0) return;
    let entries: RedisEntry[] = [];
    try {
      if (this.#stopping) return;
      this.#readerId ??= await this.#reader.clientId();
      if (this.#stopping) return;
      this.#blockedId = this.#readerId;
      entries = await this.#reader.xreadgroup(this.#stream, this.group, this.#shared.consumer, '>', taken, block);
    } finally {
      this.#blockedId = undefined;
      this.#shared.slots.give(taken - entries.length);
    }
    for (const entry of entries) this.#dispatch(entry, 1);
  }

  /** After a (re)connection: our own pending entries, read again (XREADGROUP from 0), page by page. */
  async #recoverOwn(): Promise<void> {
    let cursor = '0';
    for (;;) {
      const entries = await this.#reader.xreadgroup(this.#stream, this.group, this.#shared.consumer, cursor, RECOVER_BATCH);
      if (entries.length === 0) return;
      cursor = (entries[entries.length - 1] as RedisEntry).id;
      await this.#adopt(entries, false);
      if (entries.length < RECOVER_BATCH || this.#stopping) return;
    }
  }

  /** XAUTOCLAIM: entries of our group idle for `claimIdle` ms (their consumer crashed or hangs), as many as slots allow. */
  async #claimIdle(): Promise<void> {
    const claim = await this.#reader.xautoclaim(this.#stream, this.group, this.#shared.consumer, this.#shared.settings.claimIdle, this.#claimCursor, RECOVER_BATCH);
    this.#claimCursor = claim.next;
    await this.#adopt(claim.entries, true);
  }

  /**
   * Starts entries that came back to us (re-read or claimed) at their delivery count: those we
   * are still working on are left alone, those already handled are only acknowledged, a trimmed
   * one is acknowledged (there is nothing to run).
   */
  async #adopt(entries: readonly RedisEntry[], claimed: boolean): Promise<void> {
    const fresh: RedisEntry[] = [];
    const done: string[] = [];
    for (const entry of entries) {
      if (this.#inFlight.has(entry.id)) continue;
      if (this.#unacked.has(entry.id) || entry.fields === undefined) done.push(entry.id);
      else fresh.push(entry);
    }
    if (done.length > 0) {
      await this.#shared.commands.xack(this.#stream, this.group, done);
      for (const id of done) this.#unacked.delete(id);
    }
    if (fresh.length === 0) return;
    const counts = await Promise.all(fresh.map((entry) => this.#shared.commands.xpendingRange(this.#stream, this.group, entry.id, entry.id, 1)));
    for (const [index, entry] of fresh.entries()) {
      const pending = counts[index]?.get(entry.id);
      // Acknowledged meanwhile (by a consumer that had it before us), or no longer ours.
      if (pending === undefined || pending.consumer !== this.#shared.consumer || this.#inFlight.has(entry.id)) continue;
      if (claimed) this.#shared.claimed(this.event, this.group);
      const taken = await this.#shared.slots.take(1);
      if (taken === 0) return;
      this.#dispatch(entry, pending.deliveries);
    }
  }

  /** Renews our hold on entries we have worked on for a while (XCLAIM JUSTID), so nobody claims a slow handler's entry. */
  async #renewHold(): Promise<void> {
    const now = Date.now();
    const old = [...this.#inFlight].filter(([, flight]) => now - flight.since > this.#shared.settings.claimIdle / 3).map(([id]) => id);
    if (old.length === 0) return;
    await this.#shared.commands.xtouch(this.#stream, this.group, this.#shared.consumer, old);
    for (const id of old) {
      const flight = this.#inFlight.get(id);
      if (flight) flight.since = now;
    }
  }

  async #flushAcks(): Promise<void> {
    const ids = [...this.#unacked];
    await this.#shared.commands.xack(this.#stream, this.group, ids);
    for (const id of ids) this.#unacked.delete(id);
  }

  /** Runs one entry (its slot already taken) until it is acknowledged, dead-lettered or left pending; then gives the slot back. */
  #dispatch(entry: RedisEntry, attempt: number): void {
    this.#inFlight.set(entry.id, { since: Date.now() });
    const task = this.#deliver(entry, attempt)
      .catch((error: unknown) => {
        // Redis went away mid-way (a retry's claim, a dead letter): the entry stays pending with
        // us, and is read again once Redis is back (the outage itself is logged once).
        if (!this.#shared.commands.ready) return;
        this.#shared.logger.error(`express-micro: event ${this.event} (${entry.id}) for group ${this.group} is left pending: ${errorText(error)}`);
      })
      .finally(() => {
        this.#inFlight.delete(entry.id);
        this.#tasks.delete(task);
        this.#shared.slots.give(1);
      });
    this.#tasks.add(task);
  }

  async #deliver(entry: RedisEntry, first: number): Promise<void> {
    const { settings, commands } = this.#shared;
    const message = fromFields(entry.fields ?? new Map());
    if (typeof message === 'string') {
      await this.#deadLetter(entry, first, `not an event: ${message}`);
      return;
    }
    let attempt = first;
    let lastError = `delivered ${first - 1} times and never acknowledged (its consumers stopped while handling it)`;
    for (;;) {
      if (attempt > settings.maxAttempts) {
        await this.#deadLetter(entry, attempt - 1, lastError);
        return;
      }
      try {
        await this.#handle(message, attempt);
      } catch (error) {
        lastError = errorText(error);
        if (attempt >= settings.maxAttempts) {
          await this.#deadLetter(entry, attempt, lastError);
          return;
        }
        this.#shared.retried(this.event, this.group);
        if (!(await this.#sleep(retryDelay(attempt)))) return;
        // Still ours? Then claim it again: its delivery count (the attempt number) goes up in
        // Redis too, and its idle time restarts. Taken by another consumer meanwhile: theirs now.
        const pending = await commands.xpendingRange(this.#stream, this.group, entry.id, entry.id, 1);
        const mine = pending.get(entry.id);
        if (mine === undefined || mine.consumer !== this.#shared.consumer) return;
        const claimed = await commands.xclaim(this.#stream, this.group, this.#shared.consumer, 0, entry.id);
        if (claimed === undefined) return;
        attempt = mine.deliveries + 1;
        const flight = this.#inFlight.get(entry.id);
        if (flight) flight.since = Date.now();
        continue;
      }
      await this.#ack(entry.id);
      return;
    }
  }

  async #ack(id: string): Promise<void> {
    try {
      await this.#shared.commands.xack(this.#stream, this.group, [id]);
    } catch {
      // Redis went away after the handlers ran: acknowledge once it is back, without running them again.
      this.#unacked.add(id);
    }
  }

  /** Moves the entry to the dead-letter stream, then acknowledges it (left pending if Redis is away: it comes back and goes there then). */
  async #deadLetter(entry: RedisEntry, attempts: number, error: string): Promise<void> {
    const { settings, commands } = this.#shared;
    await deadLetter(commands, settings.prefix, this.event, settings.maxLength, entry, { group: this.group, attempts, error });
    this.#shared.deadLettered(this.event, this.group);
    this.#shared.logger.warn(`express-micro: event ${this.event} (${entry.id}) moved to the dead-letter stream for group ${this.group} after ${attempts} attempts: ${error}`);
    await this.#ack(entry.id);
  }

  /** Waits `ms`; resolves false when woken early by {@link StreamConsumer.stop} (unless `always`). */
  #sleep(ms: number, always = false): Promise<boolean> {
    if (this.#stopping && !always) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        timer.stop();
        this.#sleepers.delete(wake);
        resolve(false);
      };
      const timer = after(ms, () => {
        this.#sleepers.delete(wake);
        resolve(true);
      });
      if (!always) this.#sleepers.add(wake);
    });
  }
}
