import type { EnumeratedSensor, TopologyDevice } from './messages.ts';

/** What a gateway's IQRF daemon last said of its mesh, all of it at once. */
export interface MeshSnapshot {
  /**
   * Whose gateway it was said of (`incarnationOf` its record): an id decommissioned and registered
   * again, by another tenant say, is another gateway, and what was known of the first is not its.
   */
  incarnation: string;
  /** The daemon's topology, coordinator included. */
  topology: TopologyDevice[];
  /** Addresses of the bonded nodes. */
  bonded: number[];
  /** The sensors each bonded node enumerated, by address. */
  sensors: Record<number, EnumeratedSensor[]>;
  /**
   * How many binary outputs and lights each bonded node enumerated (`iqrfBinaryoutput_Enumerate`,
   * `iqrfLight_Enumerate`; 0 for a node without the peripheral), by address. Absent in snapshots
   * kept before actuators were enumerated.
   */
  actuators?: Record<number, NodeActuators>;
  /** ISO-8601: when the daemon said it. */
  observedAt: string;
}

/** A node's actuator peripherals: how many outputs its Binary Output and lights its Light peripheral have. */
export interface NodeActuators {
  binaryOutputs: number;
  lights: number;
}

/** A registered gateway as far as its mesh is concerned (a registry's `GatewayRecord` is one). */
export interface MeshGateway {
  id: string;
  tenant: string;
  /** ISO-8601. */
  registeredAt: string;
}

/** Which registration of a gateway id a record is: its tenant and when it was registered. */
export function incarnationOf(gateway: Pick<MeshGateway, 'tenant' | 'registeredAt'>): string {
  return `${gateway.tenant}|${gateway.registeredAt}`;
}

/** Where mesh snapshots are kept between processes and restarts (the gateway registry). */
export interface MeshStore {
  /** The last mesh each gateway's daemon reported, in key order; `undefined` when none is known. */
  lastKnownMeshes(ids: readonly string[]): Promise<Array<MeshSnapshot | undefined>>;
  /** Keeps what a gateway's daemon just reported, unless what is kept was observed later. */
  saveMesh(gatewayId: string, snapshot: MeshSnapshot): Promise<void>;
}
