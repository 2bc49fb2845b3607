import type { Emitter } from './emitter.ts';
import type { Instance, MembershipTable } from './table.ts';
import type {
  DescribeMessage,
  Descriptor,
  GossipMessage,
  PingAnswer,
  PingMessage,
  PingRequestAnswer,
  PingRequestMessage,
  RegisterMessage,
} from './types.ts';

/**
 * Where the membership table is filled from: SWIM gossip between the instances (`Cluster`) or a
 * registry they all write to (`EtcdMembership`). The plugin, the `services` proxy, the
 * `/_discovery` endpoints, metrics and events use only this face and the table behind it, so
 * nothing above it knows which one runs (docs/ARCHITECTURE.md, "The membership seam").
 */
export interface MembershipSource {
  /** `up`, `down`, `discovered`, `removed`, `suspect`, `ejected`, `restored`: the table's events. */
  readonly events: Emitter;
  /** The one table every part reads. */
  readonly table: MembershipTable;
  /** Settles when the first round (a join, or a registration and the first read) has finished. */
  readonly ready: Promise<void>;
  /** This instance's id. */
  readonly id: string;
  /** This instance's URL once started. */
  readonly url: string | undefined;
  /** True once `start` ran. */
  readonly started: boolean;
  /** Puts this instance in the table and begins; `id` replaces the random one (shared workers). */
  start(url: string, id?: string): void;
  /** This instance's descriptor, its routes read again when the cached copy is old. */
  descriptor(): Descriptor;
  /** Reads this app's routes again (at most once a second unless `force`) and publishes a change. */
  refreshRoutes(force: boolean): void;
  /** A call could not connect to `instance`: out of this process's rotation at once. */
  unreachable(instance: Instance): void;
  /**
   * `instance` answered a call that it does not serve a route its row lists (the row is stale:
   * a restart in place with other routes, or routes not fetched yet): fetch its routes again.
   */
  stale(instance: Instance): void;
  /** Answers `/_discovery/ping` (GET, or POST with a probe). */
  onPing(message: PingMessage | undefined): PingAnswer;
  /** The gossip endpoints' handlers; undefined when membership does not come from gossip. */
  readonly gossip: GossipProtocol | undefined;
  /** Stops, says goodbye where the source can (a leave, a revoked lease), releases what it holds. */
  close(): Promise<void>;
}

/** What the gossip endpoints (`register`, `describe`, `ping-req`, `gossip`, `leave`) are answered by. */
export interface GossipProtocol {
  /**
   * True once this instance began to leave (`close()`): it says goodbye, so `register` and
   * `describe` answer 503 and a member that asks now does not take it in again.
   */
  readonly leaving: boolean;
  onRegister(message: RegisterMessage): RegisterMessage;
  onDescribe(message: DescribeMessage): DescribeMessage;
  onPingRequest(message: PingRequestMessage): Promise<PingRequestAnswer>;
  onGossip(message: GossipMessage): GossipMessage;
  onLeave(id: string): void;
  onPing(message: PingMessage | undefined): PingAnswer;
  /** Logs, once per reason, that a peer of another protocol version was refused. */
  refusedProtocol(reason: string): void;
}
