import type { MemberState } from './types.ts';

/** How many times each piece of news is sent, times log10 of the cluster size (memberlist's 4). */
const RETRANSMIT_MULTIPLIER = 4;

/** How many times news is passed on in a cluster of `members`: enough to reach all, with high probability. */
export function retransmitLimit(members: number): number {
  return RETRANSMIT_MULTIPLIER * Math.max(1, Math.ceil(Math.log10(members + 1)));
}

/**
 * News waiting to ride on outgoing messages (SWIM's piggybacking; docs/ARCHITECTURE.md,
 * "Membership"). Newer news about a member replaces older news about it; the least-sent news
 * goes first, and each is dropped after `retransmitLimit` sends.
 */
export class Broadcasts {
  readonly #queue = new Map<string, { update: MemberState; sent: number; order: number; urgent: boolean }>();
  #added = 0;

  /**
   * Queues `update`, replacing what was queued about the same member. Urgent news (a suspicion,
   * a death, a refutation, a leave) rides ahead of the rest: it changes where calls go.
   */
  add(update: MemberState, urgent = false): void {
    this.#queue.delete(update.id);
    this.#queue.set(update.id, { update, sent: 0, order: this.#added++, urgent });
  }

  /** Drops what is queued about member `id`. */
  drop(id: string): void {
    this.#queue.delete(id);
  }

  get size(): number {
    return this.#queue.size;
  }

  /** Up to `limit` updates for one message: urgent first, then least-sent, then newest; each counted as sent once more. */
  take(limit: number, members: number, skip?: string): MemberState[] {
    if (this.#queue.size === 0) return [];
    const entries = [...this.#queue.values()].filter((entry) => entry.update.id !== skip);
    if (entries.length > limit) entries.sort((a, b) => Number(b.urgent) - Number(a.urgent) || a.sent - b.sent || b.order - a.order);
    const chosen = entries.length > limit ? entries.slice(0, limit) : entries;
    const most = retransmitLimit(members);
    const updates: MemberState[] = [];
    for (const entry of chosen) {
      updates.push(entry.update);
      if (++entry.sent >= most) this.#queue.delete(entry.update.id);
    }
    return updates;
  }
}
