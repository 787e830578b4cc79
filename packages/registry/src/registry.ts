import type { MeshSnapshot, NodeActuators, Quantity } from '#iqrf';

// The mesh snapshot is the IQRF package's (its `MeshCatalog` makes them); the registry keeps them.
export { incarnationOf, type MeshSnapshot } from '#iqrf';

export type CpuArch = 'AMD64' | 'ARM' | 'ARM64';
export type GatewayStatus = 'PROVISIONING' | 'ONLINE' | 'OFFLINE' | 'DECOMMISSIONED';

/** What we know of a mesh node beyond what its daemon says: a name, a room, counter meanings, its tenant. */
export interface NodeMeta {
  name?: string;
  room?: string;
  /** Quantity per sensor index, for sensors whose IQRF type says too little (counters). */
  quantities?: Record<number, Quantity>;
  /**
   * The tenant the node (its sensors, actuators, readings) belongs to, when an operator assigned
   * it to another than the gateway's owner (`assignNodes`): the gateway is then shared.
   */
  tenant?: string;
  /** Names of its actuators by their key within the node (`output0`, `light1`: `actuatorKey`). */
  actuators?: Record<string, string>;
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

/** The tenant a node of `gateway` belongs to: the one it was assigned to, else the gateway's owner. */
export function nodeTenant(gateway: Pick<GatewayRecord, 'tenant' | 'nodes'>, address: number): string {
  return (address !== 0 && gateway.nodes[address]?.tenant) || gateway.tenant;
}

/** Every tenant with nodes on `gateway`, the owner first: more than one on a shared gateway. */
export function gatewayTenants(gateway: Pick<GatewayRecord, 'tenant' | 'nodes'>): string[] {
  const tenants = new Set([gateway.tenant]);
  for (const meta of Object.values(gateway.nodes)) if (meta.tenant) tenants.add(meta.tenant);
  return [...tenants];
}

/**
 * The registry of gateways: tenant, location, names and rooms, and the last mesh each gateway's
 * daemon reported (so that an offline gateway is still described, after restarts and by every
 * API instance). It survives restarts (a JSON file by default, Redis when configured).
 */
export interface GatewayRegistry {
  list(): Promise<GatewayRecord[]>;
  /** In key order; `undefined` for unknown ids. */
  getMany(ids: readonly string[]): Promise<Array<GatewayRecord | undefined>>;
  /** Adds a gateway; false (and nothing changed) when the id is taken. */
  add(record: GatewayRecord): Promise<boolean>;
  /** Applies `change` to a stored gateway; undefined when there is none. */
  update(id: string, change: (record: GatewayRecord) => GatewayRecord): Promise<GatewayRecord | undefined>;
  /** Removes a gateway and its last known mesh. */
  remove(id: string): Promise<boolean>;
  /** The last mesh each gateway's daemon reported, in key order; `undefined` when none is known. */
  lastKnownMeshes(ids: readonly string[]): Promise<Array<MeshSnapshot | undefined>>;
  /**
   * Keeps what a gateway's daemon just reported of its mesh, replacing what was kept, unless the
   * gateway is not registered (any more) or what is kept was observed later.
   */
  saveMesh(gatewayId: string, snapshot: MeshSnapshot): Promise<void>;
  close(): Promise<void>;
}

/** A stored mesh snapshot, or undefined when `value` does not have its shape (a cache can always be refetched). */
export function parseMeshSnapshot(value: unknown): MeshSnapshot | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Partial<MeshSnapshot>;
  const valid =
    typeof candidate.incarnation === 'string' &&
    typeof candidate.observedAt === 'string' &&
    !Number.isNaN(Date.parse(candidate.observedAt)) &&
    Array.isArray(candidate.topology) &&
    Array.isArray(candidate.bonded) &&
    candidate.bonded.every((address) => Number.isInteger(address)) &&
    typeof candidate.sensors === 'object' &&
    candidate.sensors !== null &&
    Object.values(candidate.sensors).every(Array.isArray) &&
    // Snapshots kept before actuators were enumerated have none: they stay valid.
    (candidate.actuators === undefined || isActuatorCounts(candidate.actuators));
  return valid ? (candidate as MeshSnapshot) : undefined;
}

/** Whether `value` is a snapshot's `actuators`: per address, counts of binary outputs and lights. */
function isActuatorCounts(value: unknown): boolean {
  const isCount = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every(
      (node: unknown) =>
        typeof node === 'object' &&
        node !== null &&
        isCount((node as NodeActuators).binaryOutputs) &&
        isCount((node as NodeActuators).lights),
    )
  );
}
