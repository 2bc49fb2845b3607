/** The discovery part: membership table, join and gossip, health round, `/_discovery` endpoints. */
export { Cluster, type ClusterSettings, type DiscoveryClient } from './cluster.ts';
export { systemClock, type Clock } from './clock.ts';
export { Emitter, type InstanceListener } from './emitter.ts';
export { mountDiscovery } from './intercept.ts';
export { routeGuard } from './route-guard.ts';
export { answerMessage, discoveryHandler, servicesView, type AuthResult, type Guard, type ServicesView } from './router.ts';
export { serviceKey } from './service-name.ts';
export type { GossipProtocol, MembershipSource } from './source.ts';
export { EtcdMembership } from './etcd/membership.ts';
export { resolveRegistry, type EtcdRegistryOptions, type EtcdTlsOptions, type RegistryOptions, type ResolvedEtcdRegistry, type ResolvedRegistry } from './etcd/options.ts';
export { info, type Instance, type MembershipTable, type ServiceEntry } from './table.ts';
export { DiscoveryTransport, type Authorize } from './transport.ts';
export type { DiscoveryEvent, InstanceInfo, InstanceStatus } from './types.ts';
