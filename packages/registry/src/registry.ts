import type { Quantity } from '#iqrf';

export type CpuArch = 'AMD64' | 'ARM' | 'ARM64';
export type GatewayStatus = 'PROVISIONING' | 'ONLINE' | 'OFFLINE' | 'DECOMMISSIONED';

/** What we know of a mesh node beyond what its daemon says: a name, a room, counter meanings. */
export interface NodeMeta {
  name?: string;
  room?: string;
  /** Quantity per sensor index, for sensors whose IQRF type says too little (counters). */
  quantities?: Record<number, Quantity>;
}

/** A gateway as the registry keeps it. */
export interface GatewayRecord {
  id: string;
  name: string;
  tenant: string;
  arch: CpuArch;
  status: GatewayStatus;
  location: { lat: number; lon: number; address?: string };
  /** ISO-8601. */
  registeredAt: string;
  nodes: Record<number, NodeMeta>;
}

/**
 * The registry of gateways: tenant, location, names and rooms. It survives restarts
 * (a JSON file by default, Redis when configured).
 */
export interface GatewayRegistry {
  list(): Promise<GatewayRecord[]>;
  /** In key order; `undefined` for unknown ids. */
  getMany(ids: readonly string[]): Promise<Array<GatewayRecord | undefined>>;
  /** Adds a gateway; false (and nothing changed) when the id is taken. */
  add(record: GatewayRecord): Promise<boolean>;
  /** Applies `change` to a stored gateway; undefined when there is none. */
  update(id: string, change: (record: GatewayRecord) => GatewayRecord): Promise<GatewayRecord | undefined>;
  remove(id: string): Promise<boolean>;
  close(): Promise<void>;
}
