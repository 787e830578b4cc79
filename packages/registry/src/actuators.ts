import type { NodeActuators } from '#iqrf';
import { nodeTenant, type GatewayRecord, type MeshSnapshot } from './registry.ts';

/** What an actuator is, by the IQRF standard it speaks: Binary Output (relays) or Light (dimmable lights). */
export type ActuatorKind = 'BINARY_OUTPUT' | 'LIGHT';

/** An actuator as the API sees it: the daemon's enumeration plus the registry's names and rooms. */
export interface ActuatorInfo {
  /** `<gatewayId>.<nodeAddress>.output<index>` or `<gatewayId>.<nodeAddress>.light<index>` */
  id: string;
  gatewayId: string;
  /** Its node's tenant (`nodeTenant`). */
  tenant: string;
  address: number;
  kind: ActuatorKind;
  /** Its index in the node's Binary Output or Light peripheral. */
  index: number;
  name: string;
  room?: string;
}

const keyPrefix: Record<ActuatorKind, string> = { BINARY_OUTPUT: 'output', LIGHT: 'light' };
const ACTUATOR_ID = /^([a-z0-9][a-z0-9-]{1,62})\.(\d{1,3})\.(output|light)(\d{1,2})$/;

/** An actuator's key within its node: `output0`, `light1` (what `NodeMeta.actuators` names). */
export function actuatorKey(kind: ActuatorKind, index: number): string {
  return `${keyPrefix[kind]}${index}`;
}

export function actuatorId(gatewayId: string, address: number, kind: ActuatorKind, index: number): string {
  return `${gatewayId}.${address}.${actuatorKey(kind, index)}`;
}

/** The parts of an actuator id, or undefined when it is not one. */
export function parseActuatorId(id: string): { gatewayId: string; address: number; kind: ActuatorKind; index: number } | undefined {
  const match = ACTUATOR_ID.exec(id);
  if (!match) return undefined;
  const address = Number(match[2]);
  const index = Number(match[4]);
  const kind: ActuatorKind = match[3] === 'output' ? 'BINARY_OUTPUT' : 'LIGHT';
  // Binary Output addresses 32 outputs, Light 32 lights (their `prevVals`).
  if (address < 1 || address > 239 || index > 31) return undefined;
  return { gatewayId: match[1]!, address, kind, index };
}

/**
 * One actuator of a node with the registry's name and room (`tenant` when it is to be another than
 * the node's tenant now, e.g. the one it had when an event was recorded).
 */
export function describeActuator(
  gateway: GatewayRecord,
  address: number,
  kind: ActuatorKind,
  index: number,
  tenant?: string,
): ActuatorInfo {
  const meta = gateway.nodes[address] ?? {};
  return {
    id: actuatorId(gateway.id, address, kind, index),
    gatewayId: gateway.id,
    tenant: tenant ?? nodeTenant(gateway, address),
    address,
    kind,
    index,
    name:
      meta.actuators?.[actuatorKey(kind, index)] ??
      `${kind === 'LIGHT' ? 'light' : 'output'} ${index + 1} of ${meta.name ?? `node ${address}`}`,
    ...(meta.room ? { room: meta.room } : {}),
  };
}

/** Joins a node's actuator peripherals with the registry's names and room. */
export function describeActuators(gateway: GatewayRecord, address: number, peripherals: NodeActuators): ActuatorInfo[] {
  const describe = (kind: ActuatorKind, count: number): ActuatorInfo[] =>
    Array.from({ length: Math.min(count, 32) }, (_, index) => describeActuator(gateway, address, kind, index));
  return [...describe('BINARY_OUTPUT', peripherals.binaryOutputs), ...describe('LIGHT', peripherals.lights)];
}

/** The actuators of every bonded node of a mesh (none for a snapshot kept before actuators were enumerated). */
export function describeMeshActuators(gateway: GatewayRecord, mesh: MeshSnapshot): ActuatorInfo[] {
  const peripherals = mesh.actuators ?? {};
  return mesh.bonded.flatMap((address) => (peripherals[address] ? describeActuators(gateway, address, peripherals[address]) : []));
}
