/**
 * The IQRF Gateway Daemon JSON API's envelope and the shapes its messages share. Requests and
 * responses share `mType` and `data.msgId`; `data.status` 0 is success. Each mType's request,
 * response and validator are in `api.ts`. See shared/reference/iqrf-daemon-api.
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
export interface ReadSensorsRequest {
  nAdr: number;
  param: { sensorIndexes?: number[] | -1 };
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
