/**
 * How much traffic a rotation's old secret still carries: each UP instance's
 * `express_micro_previous_secret_*` metrics, summed, so an operator can tell when no member sends
 * the old secret any more and it can be dropped (README, "Rotating the secret").
 */
import { ago } from '../../cluster-table.ts';
import type { ClusterView } from '../../cluster-view.ts';
import type { PeerClient } from '../../peer.ts';

const METRICS_PATH = '/_discovery/metrics';
const COUNT = 'express_micro_previous_secret_accepted_total';
const LAST = 'express_micro_previous_secret_last_accepted_timestamp_seconds';
const TIMEOUT_MS = 2000;

/** Requests the UP instances accepted under a secret other than the one they send. */
export interface PreviousSecretUse {
  /** Their sum, since each instance started. */
  accepted: number;
  /** How many instances accepted at least one. */
  instances: number;
  /** When the latest was accepted (ms since the epoch), null for never. */
  lastAcceptedAt: number | null;
  /** How many instances answered with their metrics. */
  read: number;
}

/** The single value of a counter or gauge family with no labels in a `micro.metrics()` JSON answer, else 0. */
function valueOf(metrics: unknown, name: string): number {
  if (typeof metrics !== 'object' || metrics === null) return 0;
  const family = (metrics as Record<string, unknown>)[name];
  if (typeof family !== 'object' || family === null) return 0;
  const samples = (family as { samples?: unknown }).samples;
  const value = Array.isArray(samples) ? (samples[0] as { value?: unknown } | undefined)?.value : undefined;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** Reads every UP instance's metrics at once; one that does not answer (or is too old to count) adds nothing. */
export async function readPreviousSecretUse(client: PeerClient, view: ClusterView): Promise<PreviousSecretUse> {
  const up = view.rows.filter((row) => row.status === 'UP');
  const answers = await Promise.allSettled(up.map((row) => client.getJson(row.url, METRICS_PATH, TIMEOUT_MS)));
  const use: PreviousSecretUse = { accepted: 0, instances: 0, lastAcceptedAt: null, read: 0 };
  for (const answer of answers) {
    if (answer.status !== 'fulfilled') continue;
    use.read++;
    const accepted = valueOf(answer.value, COUNT);
    if (accepted === 0) continue;
    use.accepted += accepted;
    use.instances++;
    const last = valueOf(answer.value, LAST) * 1000;
    if (last > 0) use.lastAcceptedAt = Math.max(use.lastAcceptedAt ?? 0, last);
  }
  return use;
}

/** `previous secret: 41 requests accepted by 2 of 3 instances, the last 0.4 s ago`; empty when none was. */
export function renderPreviousSecretUse(use: PreviousSecretUse, now: number): string {
  if (use.accepted === 0) return '';
  const requests = `${use.accepted} request${use.accepted === 1 ? '' : 's'}`;
  return `previous secret: ${requests} accepted by ${use.instances} of ${use.read} instance${use.read === 1 ? '' : 's'}, the last ${ago(use.lastAcceptedAt, now)}\n`;
}
