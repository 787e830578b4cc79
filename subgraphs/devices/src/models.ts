import type { CollectorPod } from '#cloud';
import type {
  ActuatorCommandRecord,
  ActuatorEventRecord,
  ActuatorGrantRecord,
  ActuatorInfo,
  ActuatorLogEntry,
  GatewayRecord,
  SensorInfo,
} from '#registry';
import type { DiscoveryEvent, DiscoverySummary } from './sources/mesh-discoveries.ts';

/** A gateway as resolvers pass it around: the registry's record. */
export type GatewayModel = GatewayRecord;

/** A mesh is resolved from its gateway's id. */
export interface MeshNetworkModel {
  gatewayId: string;
}

export interface MeshNodeModel {
  gatewayId: string;
  address: number;
  /** From the daemon's topology; undefined until loaded. */
  parent?: number | null;
  hops?: number;
}

export type SensorModel = SensorInfo;

/** A discovery run as `discoverMesh` returns (and stores) it; resolvers read the live run by its id. */
export type MeshDiscoveryModel = DiscoverySummary;

export type MeshDiscoveryEventModel = DiscoveryEvent;

/** A collector pod as the provisioner deployed it. */
export type CollectorDeploymentModel = CollectorPod;

export type ActuatorModel = ActuatorInfo;

export type ActuatorCommandModel = ActuatorCommandRecord;

/** An event of `actuatorEvents` with its stream position (the cursor is made from it). */
export type ActuatorEventModel = ActuatorLogEntry & { event: ActuatorEventRecord };

export type ActuatorGrantModel = ActuatorGrantRecord;
