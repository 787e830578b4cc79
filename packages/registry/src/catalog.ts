import { sensorTypes, quantityUnit, type EnumeratedSensor, type IqrfClient, type Quantity, type TopologyDevice } from '#iqrf';
import type { GatewayRecord } from './registry.ts';

/** A sensor as the API and the collector see it: daemon enumeration plus registry metadata. */
export interface SensorInfo {
  /** `<gatewayId>.<nodeAddress>.<sensorIndex>` */
  id: string;
  gatewayId: string;
  tenant: string;
  address: number;
  /** Position among all sensors of the node (the daemon's enumeration order). */
  index: number;
  /** IQRF sensor type. */
  type: number;
  /** Position among the node's sensors of the same type (what FRC's `sensorIndex` means). */
  typeIndex: number;
  quantity: Quantity;
  unit: string;
  name: string;
  room?: string;
}

const SENSOR_ID = /^([a-z0-9][a-z0-9-]{1,62})\.(\d{1,3})\.(\d{1,2})$/;

export function sensorId(gatewayId: string, address: number, index: number): string {
  return `${gatewayId}.${address}.${index}`;
}

/** The parts of a sensor id, or undefined when it is not one. */
export function parseSensorId(id: string): { gatewayId: string; address: number; index: number } | undefined {
  const match = SENSOR_ID.exec(id);
  if (!match) return undefined;
  const address = Number(match[2]);
  if (address < 1 || address > 239) return undefined;
  return { gatewayId: match[1]!, address, index: Number(match[3]) };
}

/** Joins a node's enumerated sensors with the registry's names, rooms and counter meanings. */
export function describeSensors(gateway: GatewayRecord, address: number, enumerated: readonly EnumeratedSensor[]): SensorInfo[] {
  const meta = gateway.nodes[address] ?? {};
  const seenOfType = new Map<number, number>();
  return enumerated.map((sensor, index) => {
    const typeIndex = seenOfType.get(sensor.type) ?? 0;
    seenOfType.set(sensor.type, typeIndex + 1);
    const quantity = meta.quantities?.[index] ?? sensorTypes.get(sensor.type)?.quantity ?? 'BINARY';
    return {
      id: sensorId(gateway.id, address, index),
      gatewayId: gateway.id,
      tenant: gateway.tenant,
      address,
      index,
      type: sensor.type,
      typeIndex,
      quantity,
      unit: quantityUnit[quantity] || sensor.unit,
      name: meta.name ? `${meta.name} ${sensor.name.toLowerCase()}` : `${sensor.name} at node ${address}`,
      ...(meta.room ? { room: meta.room } : {}),
    };
  });
}

export interface MeshCatalogOptions {
  /** How long topology and enumerations are reused. Default 5 min; mutations invalidate earlier. */
  ttlMs?: number;
  timeoutMs?: number;
}

interface Cached<T> {
  expires: number;
  value: Promise<T>;
}

/**
 * What each gateway's IQRF daemon says about its mesh (topology, bonded nodes, sensors of each
 * node), fetched once and reused for `ttlMs`: enumerating a mesh costs radio time, and both the
 * API and the collector need it. Concurrent callers share one request; failures are not kept.
 */
export class MeshCatalog {
  private readonly cache = new Map<string, Cached<unknown>>();
  private readonly ttlMs: number;

  constructor(private readonly iqrf: IqrfClient, private readonly options: MeshCatalogOptions = {}) {
    this.ttlMs = options.ttlMs ?? 300_000;
  }

  topology(gatewayId: string): Promise<TopologyDevice[]> {
    return this.cached(`${gatewayId}|topology`, async () => {
      const data = await this.iqrf.request<{ devices: TopologyDevice[] }>(gatewayId, 'iqrfDb_GetNetworkTopology', {}, this.requestOptions());
      if (!Array.isArray(data.rsp?.devices)) throw new Error(`gateway "${gatewayId}" answered iqrfDb_GetNetworkTopology without rsp.devices`);
      return data.rsp.devices;
    });
  }

  bondedNodes(gatewayId: string): Promise<number[]> {
    return this.cached(`${gatewayId}|bonded`, async () => {
      const data = await this.iqrf.request<{ result?: { bondedDevices?: number[] } }>(
        gatewayId,
        'iqrfEmbedCoordinator_BondedDevices',
        { nAdr: 0, param: {} },
        this.requestOptions(),
      );
      const bonded = data.rsp?.result?.bondedDevices;
      if (!Array.isArray(bonded)) throw new Error(`gateway "${gatewayId}" answered iqrfEmbedCoordinator_BondedDevices without result.bondedDevices`);
      return bonded;
    });
  }

  nodeSensors(gatewayId: string, address: number): Promise<EnumeratedSensor[]> {
    return this.cached(`${gatewayId}|sensors|${address}`, async () => {
      const data = await this.iqrf.request<{ result?: { sensors?: EnumeratedSensor[] } }>(
        gatewayId,
        'iqrfSensor_Enumerate',
        { nAdr: address, param: {} },
        this.requestOptions(),
      );
      const sensors = data.rsp?.result?.sensors;
      if (!Array.isArray(sensors)) throw new Error(`gateway "${gatewayId}" answered iqrfSensor_Enumerate for node ${address} without result.sensors`);
      return sensors;
    });
  }

  /** Every sensor of a gateway, node by node. */
  async sensorsOf(gateway: GatewayRecord): Promise<SensorInfo[]> {
    const bonded = await this.bondedNodes(gateway.id);
    const perNode = await Promise.all(bonded.map(async (address) => describeSensors(gateway, address, await this.nodeSensors(gateway.id, address))));
    return perNode.flat();
  }

  /** Forgets what is known of a gateway's mesh (after bonding, unbonding, discovery). */
  invalidate(gatewayId: string): void {
    for (const key of this.cache.keys()) if (key.startsWith(`${gatewayId}|`)) this.cache.delete(key);
  }

  private requestOptions() {
    return this.options.timeoutMs ? { timeoutMs: this.options.timeoutMs } : {};
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit && hit.expires > Date.now()) return hit.value as Promise<T>;
    const value = load();
    this.cache.set(key, { expires: Date.now() + this.ttlMs, value });
    value.catch(() => {
      if (this.cache.get(key)?.value === value) this.cache.delete(key);
    });
    return value;
  }
}
