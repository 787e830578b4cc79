import type { Caller } from '#auth';
import type { ContrailClient, KubernetesClient, OpenStackClient, TenantOnboarder } from '#cloud';
import type { IdempotencyStore } from '#registry';
import { createInfrastructureLoaders, type InfrastructureLoaders } from './loaders.ts';

/** The external systems the subgraph reads: the `#cloud` clients, or anything shaped like them. */
export interface InfrastructureSources {
  openstack: Pick<OpenStackClient, 'listProjects' | 'listServers' | 'listHypervisors' | 'listNetworks'>;
  contrail: Pick<ContrailClient, 'listVirtualNetworks' | 'listVirtualRouters' | 'listBgpRouters' | 'listVirtualMachineInterfaces'>;
  kubernetes: Pick<KubernetesClient, 'listNodes' | 'listPods' | 'listNamespaces'>;
  /** Creates tenants in the data center, all or nothing (`TenantOnboarder`). */
  onboarder: Pick<TenantOnboarder, 'onboard'>;
  /** Mutation results by idempotency key: Redis when the platform has one; in memory when absent. */
  idempotency?: IdempotencyStore;
}

/** What the subgraph runs itself, from its sources, for as long as it runs. */
export interface InfrastructureServices {
  /** Development: user errors carry the data-center systems' own text (`toUserError`). */
  exposeInternalErrors: boolean;
  idempotency: IdempotencyStore;
}

export interface InfrastructureContext {
  /** Who is asking, as the router signed it: every resolver scopes what it returns to this caller. */
  caller: Caller;
  sources: InfrastructureSources;
  services: InfrastructureServices;
  /** Created per operation: nothing is cached across requests. */
  loaders: InfrastructureLoaders;
}

export function createInfrastructureContext(
  sources: InfrastructureSources,
  services: InfrastructureServices,
  caller: Caller,
): InfrastructureContext {
  return { caller, sources, services, loaders: createInfrastructureLoaders(sources, caller) };
}
