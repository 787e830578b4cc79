import type { Caller } from '#auth';
import type { GatewayCredentials } from '#broker';
import type { IqrfClient, MeshCatalog } from '#iqrf';
import type { Logger } from '#log';
import type { CollectorPod, GatewayToProvision, Step } from '#cloud';
import type { GatewayRegistry, IdempotencyStore } from '#registry';
import type { ActuatorGrantStore } from '#registry';
import type { ActuatorLog } from '#registry';
import { createLoaders, type DevicesLoaders } from './loaders.ts';
import type { GatewayActivation } from './sources/gateway-activation.ts';
import type { ActuatorRateLimit } from './sources/actuator-rate-limit.ts';
import type { MeshDiscoveries } from './sources/mesh-discoveries.ts';

/**
 * The data-center side of a gateway (Kubernetes node, Contrail vRouter, collector pod), each
 * operation all or nothing; `more` runs last under the same rollback (`GatewayProvisioner`).
 */
export interface Provisioner {
  provision(gateway: GatewayToProvision, more?: readonly Step[]): Promise<CollectorPod>;
  deployCollector(gateway: GatewayToProvision, more?: readonly Step[]): Promise<CollectorPod>;
  deprovision(gateway: GatewayToProvision, more?: readonly Step[]): Promise<void>;
  /** Makes `tenant` a guest of a shared gateway: its own collector pod and vRouter interface there (checks it is onboarded). */
  addTenant(gateway: GatewayToProvision, tenant: string, more?: readonly Step[]): Promise<CollectorPod>;
  /** Removes a guest tenant's collector pod and vRouter interface from a gateway (parts already gone are skipped). */
  removeTenant(gateway: GatewayToProvision, tenant: string, more?: readonly Step[]): Promise<void>;
  nodeReady(gatewayId: string): Promise<boolean>;
}

export interface DevicesSources {
  registry: GatewayRegistry;
  catalog: MeshCatalog;
  iqrf: IqrfClient;
  provisioner: Provisioner;
  /** Sensors the open data catalogue publishes: their names and quantities are readable by every caller. */
  openSensorIds: ReadonlySet<string>;
  /** A gateway whose daemon answered (a heartbeat, anything) within this window is ONLINE. */
  onlineWindowMs: number;
  /** Issues, rotates and revokes gateways' MQTT credentials on the broker. */
  credentials: GatewayCredentials;
  /** Mutation results by idempotency key: Redis when the platform has one; in memory when absent. */
  idempotency?: IdempotencyStore;
  /** Actuators' audit trails, last states and events (`actuatorEvents`): Redis when the platform has one, else memory. */
  actuatorLog: ActuatorLog;
  /** How long a command (or a state read) waits for the daemon before it is UNCONFIRMED (ACTUATOR_COMMAND_TIMEOUT_MS). */
  actuatorCommandTimeoutMs: number;
  /** Tenants' grants of command rights on their actuators: read at every request (a revocation holds at once). */
  actuatorGrants: ActuatorGrantStore;
}

/** What the subgraph runs itself, from its sources, for as long as it runs. */
export interface DevicesServices {
  logger: Logger;
  /** Development: user errors carry the data-center systems' own text (`toUserError`). */
  exposeInternalErrors: boolean;
  idempotency: IdempotencyStore;
  discoveries: MeshDiscoveries;
  activation: GatewayActivation;
  /** When the subgraph started (ms since the epoch): gateways not heard yet are unknown, not OFFLINE, for one online window. */
  startedAt: number;
  /** Commands per actuator (a token bucket each): shared through Redis when the platform has one. */
  actuatorRateLimit: ActuatorRateLimit;
}

export interface DevicesContext {
  /** Who is asking, as the router signed it: every resolver scopes what it returns to this caller. */
  caller: Caller;
  sources: DevicesSources;
  services: DevicesServices;
  loaders: DevicesLoaders;
}

/** One context per operation: fresh DataLoaders, shared sources and services. */
export function createDevicesContext(sources: DevicesSources, services: DevicesServices, caller: Caller): DevicesContext {
  return { caller, sources, services, loaders: createLoaders(sources, caller) };
}
