import DataLoader from 'dataloader';
import { canSeeTenant, type Caller } from '#auth';
import type { TopologyDevice } from '#iqrf';
import { parseSensorId, type GatewayRecord, type SensorInfo } from '#registry';
import type { DevicesSources } from './context.ts';
import { hiddenGatewayError, toGraphQLError } from './errors.ts';

export type DevicesLoaders = ReturnType<typeof createLoaders>;

/**
 * Per-operation DataLoaders: every gateway, mesh and sensor lookup of one request goes through
 * them, and they hold the tenant wall: a gateway of a tenant `caller` may not see is, for every
 * resolver, a gateway that does not exist (and so are its sensors, and its mesh, whose topology
 * is an error). `openSensor` reads the sensors open data publishes, whoever owns them: their
 * gateway and mesh stay behind the wall.
 */
export function createLoaders(sources: DevicesSources, caller: Caller) {
  const walled = sensorLoaders(sources, (record) => canSeeTenant(caller, record.tenant));
  const topology = new DataLoader<string, TopologyDevice[]>(async (gatewayIds) => {
    const gateways = await walled.gateway.loadMany(gatewayIds);
    return Promise.all(
      gatewayIds.map((id, i) => {
        const gateway = gateways[i];
        if (gateway instanceof Error) return gateway;
        if (!gateway) return hiddenGatewayError(caller, id);
        return sources.catalog.topology(id).catch(toGraphQLError);
      }),
    );
  });
  const open = sensorLoaders(sources, () => true);
  const openSensor = new DataLoader<string, SensorInfo | null>(async (ids) => {
    const loaded = await open.sensor.loadMany(ids.map((id) => (sources.openSensorIds.has(id) ? id : '')));
    return loaded.map((sensor) => (sensor instanceof Error ? sensor : (sensor ?? null)));
  });
  return { ...walled, topology, openSensor };
}

/** Gateways, their sensors and sensors by id, of the gateways `visible` lets through. */
function sensorLoaders(sources: DevicesSources, visible: (record: GatewayRecord) => boolean) {
  const gateway = new DataLoader<string, GatewayRecord | null>(async (ids) =>
    (await sources.registry.getMany(ids)).map((record) => (record && visible(record) ? record : null)),
  );

  const gatewaySensors = new DataLoader<string, SensorInfo[]>(async (gatewayIds) => {
    const records = await gateway.loadMany(gatewayIds);
    return Promise.all(
      records.map(async (record) => {
        if (record instanceof Error) return record;
        if (!record) return [];
        return sources.catalog.sensorsOf(record).catch(toGraphQLError);
      }),
    );
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

  return { gateway, gatewaySensors, sensor };
}

/** The gateway if `caller` may see it (through the loader's wall); throws `hiddenGatewayError` otherwise. */
export async function requireGateway(loaders: DevicesLoaders, caller: Caller, id: string): Promise<GatewayRecord> {
  const gateway = await loaders.gateway.load(id);
  if (!gateway) throw hiddenGatewayError(caller, id);
  return gateway;
}
