import { sensorTypes, quantityUnit, type EnumeratedSensor, type Quantity } from '#iqrf';
import { nodeTenant, type GatewayRecord, type MeshSnapshot } from './registry.ts';

/** A sensor as the API and the collector see it: daemon enumeration plus registry metadata. */
export interface SensorInfo {
  /** `<gatewayId>.<nodeAddress>.<sensorIndex>` */
  id: string;
  gatewayId: string;
  /** Its node's tenant (`nodeTenant`): the gateway's owner unless the node was assigned to another. */
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
      tenant: nodeTenant(gateway, address),
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

/** The sensors of every bonded node of a mesh, with the registry's names and rooms. */
export function describeMeshSensors(gateway: GatewayRecord, mesh: MeshSnapshot): SensorInfo[] {
  return mesh.bonded.flatMap((address) => describeSensors(gateway, address, mesh.sensors[address] ?? []));
}
