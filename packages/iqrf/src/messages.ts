/**
 * The IQRF Gateway Daemon JSON API, as far as the platform speaks it. Requests and responses
 * share `mType` and `data.msgId`; `data.status` 0 is success. See shared/reference/iqrf-daemon-api.
 */

export interface DaemonRequest<TReq = unknown> {
  mType: string;
  data: { msgId: string; req: TReq; repeat?: number; returnVerbose?: boolean };
}

export interface DaemonResponse<TRsp = unknown> {
  mType: string;
  data: { msgId: string; rsp: TRsp; status: number; statusStr?: string; insId?: string; raw?: unknown };
}

/** One entry of a sensor answer; the daemon gives `null` for nodes that returned nothing. */
export interface SensorValue {
  id?: string;
  type: number;
  name?: string;
  shortName?: string;
  value: number | null;
  unit?: string;
  decimalPlaces?: number;
}

export interface FrcRequest {
  nAdr: 0;
  param: { sensorType: number; sensorIndex: number; frcCommand: number; selectedNodes?: number[]; extFormat?: boolean };
}
export interface FrcResult {
  sensors: Array<SensorValue | null>;
  sensorIndex: number;
  selectedNodes?: number[];
}

export interface ReadSensorsRequest {
  nAdr: number;
  param: { sensorIndexes?: number[] | -1 };
}
export interface ReadSensorsResult {
  sensors: SensorValue[];
}

/** One device of `iqrfDb_GetNetworkTopology`; `parent` builds the mesh tree (null: coordinator). */
export interface TopologyDevice {
  address: number;
  vrn: number;
  zone: number;
  parent: number | null;
  os?: string;
  dpa?: number;
}

/** `iqrfSensor_Enumerate` result item: the sensors of one node in index order. */
export interface EnumeratedSensor {
  id: string;
  type: number;
  name: string;
  shortName?: string;
  unit: string;
  decimalPlaces: number;
  frcs: number[];
}

/** Progress of `iqmeshNetwork_AutoNetwork`: several responses arrive under one msgId. */
export interface AutoNetworkProgress {
  wave: number;
  waveStateCode?: number;
  waveState?: string;
  progress?: number;
  nodesNr?: number;
  newNodesNr?: number;
  newNodes?: Array<{ mid: string; address: number }>;
  lastWave?: boolean;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Validates one `iqmeshNetwork_AutoNetwork` response's `data.rsp` (a wave's state or its result). */
export function parseAutoNetworkProgress(rsp: unknown): ValidationResult<AutoNetworkProgress> {
  if (!isObject(rsp)) return { ok: false, error: 'rsp is not an object' };
  if (!isCount(rsp.wave)) return { ok: false, error: 'rsp.wave is not a non-negative integer' };
  for (const key of ['waveStateCode', 'progress', 'nodesNr', 'newNodesNr'] as const) {
    if (rsp[key] !== undefined && !isCount(rsp[key])) return { ok: false, error: `rsp.${key} is not a non-negative integer` };
  }
  if (rsp.waveState !== undefined && typeof rsp.waveState !== 'string') return { ok: false, error: 'rsp.waveState is not a string' };
  if (rsp.lastWave !== undefined && typeof rsp.lastWave !== 'boolean') return { ok: false, error: 'rsp.lastWave is not a boolean' };
  if (rsp.newNodes !== undefined) {
    if (!Array.isArray(rsp.newNodes)) return { ok: false, error: 'rsp.newNodes is not an array' };
    const bad = rsp.newNodes.findIndex(
      (n) => !isObject(n) || !isCount(n.address) || n.address < 1 || n.address > 239 || typeof n.mid !== 'string',
    );
    if (bad >= 0) return { ok: false, error: `rsp.newNodes[${bad}] is not {address: 1-239, mid: string}` };
  }
  return { ok: true, value: rsp as unknown as AutoNetworkProgress };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * Validates a raw MQTT payload as a daemon response: JSON, an object with a string `mType` and
 * `data.msgId`, a numeric `data.status`. Says exactly what was wrong otherwise.
 */
export function parseDaemonResponse(payload: Buffer | string): ValidationResult<DaemonResponse> {
  let message: unknown;
  try {
    message = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (error) {
    return { ok: false, error: `payload is not JSON (${(error as Error).message})` };
  }
  if (!isObject(message)) return { ok: false, error: 'payload is not a JSON object' };
  if (typeof message.mType !== 'string') return { ok: false, error: '"mType" is missing or not a string' };
  const data = message.data;
  if (!isObject(data)) return { ok: false, error: '"data" is missing or not an object' };
  if (typeof data.msgId !== 'string' || data.msgId === '') return { ok: false, error: '"data.msgId" is missing or not a string' };
  if (typeof data.status !== 'number') return { ok: false, error: '"data.status" is missing or not a number' };
  return { ok: true, value: message as unknown as DaemonResponse };
}

/** Validates a sensor entry (FRC or ReadSensorsWithTypes); `null` stays `null`. */
export function parseSensorValue(entry: unknown, where: string): ValidationResult<SensorValue | null> {
  if (entry === null) return { ok: true, value: null };
  if (!isObject(entry)) return { ok: false, error: `${where} is not an object` };
  if (typeof entry.type !== 'number' || !Number.isInteger(entry.type)) return { ok: false, error: `${where}.type is not an integer` };
  if (entry.value !== null && (typeof entry.value !== 'number' || !Number.isFinite(entry.value))) {
    return { ok: false, error: `${where}.value is not a finite number` };
  }
  return { ok: true, value: entry as unknown as SensorValue };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
