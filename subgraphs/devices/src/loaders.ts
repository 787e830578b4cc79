import DataLoader from 'dataloader';
import { canSeeTenant, isAdmin, type Caller } from '#auth';
import type { ObservedMesh, TopologyDevice } from '#iqrf';
import { isPublishedNow } from '#opendata-catalog';
import { describeMeshSensors, gatewayTenants, nodeTenant, parseSensorId, type GatewayRecord, type SensorInfo } from '#registry';
import { createActuatorLoaders } from './actuator-loaders.ts';
import type { DevicesSources } from './context.ts';
import { ErrorCode, userError } from '#kit';
import { hiddenGatewayError, toGraphQLError } from './errors.ts';
import type { MeshNodeModel } from './models.ts';

export type DevicesLoaders = ReturnType<typeof createLoaders>;

/**
 * Per-operation DataLoaders: every gateway, mesh and sensor lookup of one request goes through
 * them, and they hold the tenant walls, at node granularity since a gateway may serve several
 * tenants (`NodeMeta.tenant`):
 * - `visibleGateway`: a gateway the caller owns or has nodes on (`gatewayTenants`; every one for
 *   an operator). Reads go through it: `Query.gateway`, entities, `requireGateway`. Any other is,
 *   for every resolver, a gateway that does not exist (and so are its sensors, and its mesh,
 *   which is an error).
 * - `gateway`: a gateway whose gateway-level operations (bonding, discovery, decommissioning,
 *   collectors) the caller may run: its owner's callers and operators only. A guest tenant of a
 *   shared gateway finds it NOT_FOUND there, as any other tenant does.
 * - sensors (`gatewaySensors`, `sensor`): only those of the caller's own nodes; another tenant's
 *   sensor on a shared gateway is one that does not exist.
 * `openSensor` reads the sensors open data publishes, whoever owns them, while their node is
 * their publisher's (`isPublishedNow`): their gateway and mesh stay behind the wall. A mesh is one
 * snapshot per gateway and request (live or last known, `MeshCatalog`), so every field of a
 * request describes the same mesh; `meshIndex` reads that snapshot's nodes, parents and hops
 * once, for every field of the request to look up.
 */
export function createLoaders(sources: DevicesSources, caller: Caller) {
  const walled = sensorLoaders(sources, {
    visible: (record) => canSeeGateway(caller, record),
    sensorVisible: (sensor) => canSeeTenant(caller, sensor.tenant),
    hidden: (id) => hiddenGatewayError(caller, id),
    failure: toGraphQLError,
  });
  // An open sensor's gateway may be another tenant's: its failure is told without its details.
  const open = sensorLoaders(sources, {
    visible: () => true,
    sensorVisible: () => true,
    hidden: () => null,
    failure: () =>
      userError(ErrorCode.GATEWAY_UNAVAILABLE, 'The gateway of this sensor is not answering, and nothing is known of its sensors yet'),
  });
  const openSensor = new DataLoader<string, SensorInfo | null>(async (ids) => {
    const loaded = await open.sensor.loadMany(ids.map((id) => (sources.openSensorIds.has(id) ? id : '')));
    const records = await open.gateway.loadMany(ids.map((id) => parseSensorId(id)?.gatewayId ?? ''));
    return loaded.map((sensor, i) => {
      if (sensor instanceof Error) return sensor;
      const record = records[i];
      // Published, and its node still its publisher's: a node assigned to another tenant is closed.
      return sensor && record && !(record instanceof Error) && isPublishedNow(sources.openSensorIds, sensor.id, record) ? sensor : null;
    });
  });
  // Gateway-level operations: the owner's callers (and operators), not a guest tenant with nodes on it.
  const gateway = new DataLoader<string, GatewayRecord | null>(async (ids) =>
    (await walled.gateway.loadMany(ids)).map((record) =>
      record instanceof Error || !record || canSeeTenant(caller, record.tenant) ? record : null,
    ),
  );
  // A node's `parent` and `hops` were a walk of the whole mesh each (O(n^2) for a 239-node mesh's
  // nodes); now one walk per mesh and request, and a lookup per field.
  const meshIndex = new DataLoader<string, MeshIndex | null>(async (gatewayIds) => {
    const meshes = await walled.mesh.loadMany(gatewayIds);
    return meshes.map((mesh, i) => (mesh instanceof Error || !mesh ? mesh : indexMesh(gatewayIds[i]!, mesh.topology)));
  });
  const { gateway: visibleGateway, ...walledRest } = walled;
  return { ...walledRest, visibleGateway, gateway, meshIndex, openSensor, ...createActuatorLoaders(sources, caller) };
}

/** Whether the caller sees the gateway: it owns it or has nodes on it (a shared gateway), or is an operator. */
export function canSeeGateway(caller: Caller, gateway: Pick<GatewayRecord, 'tenant' | 'nodes'>): boolean {
  return gatewayTenants(gateway).some((tenant) => canSeeTenant(caller, tenant));
}

/**
 * The tenants of a gateway the caller may know of: every one for an operator; for a tenant, the
 * owner and itself (when it has nodes there), never the other guests (nor, to the owner, its
 * guests: their nodes are anonymous hops to it). `Gateway.tenants` and the `tenant` filter of
 * `Query.gateways` both answer from it, so that the filter is no oracle for who else is a guest.
 */
export function tenantsSeenBy(caller: Caller, gateway: Pick<GatewayRecord, 'tenant' | 'nodes'>): string[] {
  const tenants = gatewayTenants(gateway);
  if (isAdmin(caller)) return tenants;
  return tenants.filter((tenant) => tenant === gateway.tenant || canSeeTenant(caller, tenant));
}

/**
 * Whether the caller sees a node of a gateway it sees as more than a routing hop: its own
 * tenant's node, or any for an operator. The coordinator (address 0) is the gateway's own radio,
 * seen with the gateway.
 */
export function canSeeNode(caller: Caller, gateway: Pick<GatewayRecord, 'tenant' | 'nodes'>, address: number): boolean {
  return address === 0 || canSeeTenant(caller, nodeTenant(gateway, address));
}

/** A mesh's nodes with their parents and hops to the coordinator, by address. */
export interface MeshIndex {
  /** The bonded nodes: all but the coordinator, by address. */
  bonded: MeshNodeModel[];
  /** Each address's node (the first, should the topology name one twice). */
  byAddress: ReadonlyMap<number, MeshNodeModel>;
}

/** Indexes the daemon's topology of `gatewayId`'s mesh: node models with parent and hops, by address. */
export function indexMesh(gatewayId: string, devices: readonly TopologyDevice[]): MeshIndex {
  const deviceAt = new Map(devices.map((d) => [d.address, d]));
  const hops = (device: TopologyDevice): number => {
    let count = 0;
    // Bounded walk: a malformed topology with a cycle must not hang the request.
    for (
      let current: TopologyDevice | undefined = device;
      current && current.parent !== null && count <= 240;
      current = deviceAt.get(current.parent)
    )
      count++;
    return count;
  };
  const nodes = devices
    .map((d) => ({ gatewayId, address: d.address, parent: d.address === 0 ? null : d.parent, hops: hops(d) }))
    .sort((a, b) => a.address - b.address);
  const byAddress = new Map<number, MeshNodeModel>();
  for (const node of nodes) if (!byAddress.has(node.address)) byAddress.set(node.address, node);
  return { bonded: nodes.filter((n) => n.address !== 0), byAddress };
}

interface Wall {
  visible(record: GatewayRecord): boolean;
  /** Of a visible gateway's sensors, those the caller may see (its own nodes'). */
  sensorVisible(sensor: SensorInfo): boolean;
  /** The mesh of a gateway `visible` does not let through: an error, or null (no mesh, no sensors). */
  hidden(id: string): Error | null;
  /** What a mesh that cannot be known is to the caller. */
  failure(error: unknown): Error;
}

/** Gateways, their meshes and sensors, and sensors by id, of the gateways `wall` lets through. */
function sensorLoaders(sources: DevicesSources, { visible, sensorVisible, hidden, failure }: Wall) {
  const gateway = new DataLoader<string, GatewayRecord | null>(async (ids) =>
    (await sources.registry.getMany(ids)).map((record) => (record && visible(record) ? record : null)),
  );

  const mesh = new DataLoader<string, ObservedMesh | null>(async (gatewayIds) => {
    const records = await gateway.loadMany(gatewayIds);
    return Promise.all(
      records.map(async (record, i) => {
        if (record instanceof Error) return record;
        if (!record) return hidden(gatewayIds[i]!);
        return sources.catalog.mesh(record).catch(failure);
      }),
    );
  });

  const gatewaySensors = new DataLoader<string, SensorInfo[]>(async (gatewayIds) => {
    const [records, meshes] = await Promise.all([gateway.loadMany(gatewayIds), mesh.loadMany(gatewayIds)]);
    return records.map((record, i) => {
      const observed = meshes[i];
      if (record instanceof Error) return record;
      if (!record) return [];
      if (observed instanceof Error) return observed;
      return observed ? describeMeshSensors(record, observed).filter(sensorVisible) : [];
    });
  });

  const sensor = new DataLoader<string, SensorInfo | null>(async (ids) => {
    const parsed = ids.map(parseSensorId);
    const known = parsed.filter((p) => p !== undefined);
    const perGateway = new Map<string, SensorInfo[] | Error>();
    const gatewayIds = [...new Set(known.map((p) => p.gatewayId))];
    const lists = await gatewaySensors.loadMany(gatewayIds);
    gatewayIds.forEach((id, i) => perGateway.set(id, lists[i]!));
    return ids.map((id, i) => {
      const key = parsed[i];
      if (!key) return null;
      const sensors = perGateway.get(key.gatewayId);
      if (sensors instanceof Error) return sensors;
      return sensors?.find((s) => s.id === id) ?? null;
    });
  });

  return { gateway, mesh, gatewaySensors, sensor };
}

/**
 * The gateway if `caller` may see it (its owner, a tenant with nodes on it, an operator: the
 * `visibleGateway` wall); throws `hiddenGatewayError` otherwise. For reads: gateway-level
 * operations use `loaders.gateway` (owner and operators only).
 */
export async function requireGateway(loaders: DevicesLoaders, caller: Caller, id: string): Promise<GatewayRecord> {
  const gateway = await loaders.visibleGateway.load(id);
  if (!gateway) throw hiddenGatewayError(caller, id);
  return gateway;
}

/** After a mutation changed a gateway: what this operation's loaders hold of it is read again. */
export function forgetGateway(loaders: DevicesLoaders, gatewayId: string): void {
  loaders.gateway.clear(gatewayId);
  loaders.visibleGateway.clear(gatewayId);
  loaders.mesh.clear(gatewayId);
  loaders.meshIndex.clear(gatewayId);
  loaders.gatewaySensors.clear(gatewayId);
  loaders.sensor.clearAll();
}
