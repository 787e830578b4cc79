import type { GatewayRecord, SensorInfo } from '#registry';

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
