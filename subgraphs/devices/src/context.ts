import type { Caller } from '#auth';
import type { IqrfClient } from '#iqrf';
import type { GatewayRegistry, MeshCatalog } from '#registry';
import { createLoaders, type DevicesLoaders } from './loaders.ts';

/** Provisions a gateway on the data-center side (Kubernetes node, Contrail vRouter) and undoes it. */
export interface Provisioner {
  provision(gateway: { id: string; tenant: string; arch: 'amd64' | 'arm' | 'arm64' }): Promise<void>;
  deprovision(id: string): Promise<void>;
}

export interface DevicesSources {
  registry: GatewayRegistry;
  catalog: MeshCatalog;
  iqrf: IqrfClient;
  provisioner: Provisioner;
  /** Tenants a gateway may be registered for. */
  tenants: ReadonlySet<string>;
  /** A gateway whose daemon answered within this window is ONLINE. */
  onlineWindowMs: number;
}

export interface DevicesContext {
  /** Who is asking, as the router signed it: every resolver scopes what it returns to this caller. */
  caller: Caller;
  sources: DevicesSources;
  loaders: DevicesLoaders;
}

/** One context per operation: fresh DataLoaders, shared sources. */
export function createDevicesContext(sources: DevicesSources, caller: Caller): DevicesContext {
  return { caller, sources, loaders: createLoaders(sources, caller) };
}
