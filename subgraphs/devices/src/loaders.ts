import DataLoader from 'dataloader';
import { canSeeTenant, type Caller } from '#auth';
import type { ObservedMesh, TopologyDevice } from '#iqrf';
import { describeMeshSensors, parseSensorId, type GatewayRecord, type SensorInfo } from '#registry';
import type { DevicesSources } from './context.ts';
import { ErrorCode, userError } from '#kit';
import { hiddenGatewayError, toGraphQLError } from './errors.ts';
import type { MeshNodeModel } from './models.ts';

export type DevicesLoaders = ReturnType<typeof createLoaders>;

/**
 * Per-operation DataLoaders: every gateway, mesh and sensor lookup of one request goes through
 * them, and they hold the tenant wall: a gateway of a tenant `caller` may not see is, for every
 * resolver, a gateway that does not exist (and so are its sensors, and its mesh, which is an
 * error). `openSensor` reads the sensors open data publishes, whoever owns them: their gateway
 * and mesh stay behind the wall. A mesh is one snapshot per gateway and request (live or last
 * known, `MeshCatalog`), so every field of a request describes the same mesh; `meshIndex` reads
 * that snapshot's nodes, parents and hops once, for every field of the request to look up.
 */
export function createLoaders(sources: DevicesSources, caller: Caller) {
  const walled = sensorLoaders(sources, {
    visible: (record) => canSeeTenant(caller, record.tenant),
    hidden: (id) => hiddenGatewayError(caller, id),
    failure: toGraphQLError,
  });
  // An open sensor's gateway may be another tenant's: its failure is told without its details.
  const open = sensorLoaders(sources, {
    visible: () => true,
    hidden: () => null,
    failure: () =>
      userError(ErrorCode.GATEWAY_UNAVAILABLE, 'The gateway of this sensor is not answering, and nothing is known of its sensors yet'),
  });
  const openSensor = new DataLoader<string, SensorInfo | null>(async (ids) => {
    const loaded = await open.sensor.loadMany(ids.map((id) => (sources.openSensorIds.has(id) ? id : '')));
    return loaded.map((sensor) => (sensor instanceof Error ? sensor : (sensor ?? null)));
  });
  // A node's `parent` and `hops` were a walk of the whole mesh each (O(n^2) for a 239-node mesh's
  // nodes); now one walk per mesh and request, and a lookup per field.
  const meshIndex = new DataLoader<string, MeshIndex | null>(async (gatewayIds) => {
    const meshes = await walled.mesh.loadMany(gatewayIds);
    return meshes.map((mesh, i) => (mesh instanceof Error || !mesh ? mesh : indexMesh(gatewayIds[i]!, mesh.topology)));
  });
  return { ...walled, meshIndex, openSensor };
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
  /** The mesh of a gateway `visible` does not let through: an error, or null (no mesh, no sensors). */
  hidden(id: string): Error | null;
  /** What a mesh that cannot be known is to the caller. */
  failure(error: unknown): Error;
}

/** Gateways, their meshes and sensors, and sensors by id, of the gateways `wall` lets through. */
function sensorLoaders(sources: DevicesSources, { visible, hidden, failure }: Wall) {
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
      return observed ? describeMeshSensors(record, observed) : [];
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

/** The gateway if `caller` may see it (through the loader's wall); throws `hiddenGatewayError` otherwise. */
export async function requireGateway(loaders: DevicesLoaders, caller: Caller, id: string): Promise<GatewayRecord> {
  const gateway = await loaders.gateway.load(id);
  if (!gateway) throw hiddenGatewayError(caller, id);
  return gateway;
}

/** After a mutation changed a gateway: what this operation's loaders hold of it is read again. */
export function forgetGateway(loaders: DevicesLoaders, gatewayId: string): void {
  loaders.gateway.clear(gatewayId);
  loaders.mesh.clear(gatewayId);
  loaders.meshIndex.clear(gatewayId);
  loaders.gatewaySensors.clear(gatewayId);
  loaders.sensor.clearAll();
}
