/**
 * The IQRF Gateway Daemon JSON API as the platform speaks it: one place for every `mType` with its
 * request (`data.req`), its response (`data.rsp` of a status 0 answer) and the validator of that
 * response, as graphql-ws keeps its `MessageType`s and `validateMessage`. Shapes follow the
 * daemon's JSON schemas (shared/reference/iqrf-daemon-api; the actuators' from the daemon repository's
 * `api/`, named at each type), keeping only what the platform reads strict; validators say exactly
 * what was wrong.
 */
import {
  isObject,
  parseSensorValue,
  type AutoNetworkProgress,
  type EnumeratedSensor,
  type FrcRequest,
  type ReadSensorsRequest,
  type SensorValue,
  type TopologyDevice,
  type ValidationResult,
} from './messages.ts';

/** The `rsp` of a DPA request's answer: the peripheral's reply fields and its `result`. */
export interface DpaResponse<TResult> {
  nAdr?: number;
  hwpId?: number;
  rCode?: number;
  dpaVal?: number;
  result: TResult;
}

/** An entry of a sensor answer that is not a sensor value; the other entries of the answer stand. */
export interface InvalidSensorEntry {
  /** Why, e.g. `rsp.result.sensors[3].value is not a finite number`. */
  invalid: string;
}

/** An FRC answer's entry: a value, `null` (the node gave nothing), or one that is neither. */
export type FrcEntry = SensorValue | null | InvalidSensorEntry;

/** `iqrfSensor_Frc` result: entry i is the i-th node asked (node i when every node was). */
export interface FrcResult {
  sensors: FrcEntry[];
  sensorIndex: number;
  selectedNodes?: number[];
}

/** `iqmeshNetwork_AutoNetwork` request: bonding waves until the stop conditions. */
export interface AutoNetworkRequest {
  discoveryTxPower: number;
  discoveryBeforeStart?: boolean;
  actionRetries?: number;
  stopConditions?: { waves?: number; emptyWaves?: number };
}

/** `iqmeshNetwork_BondNodeLocal` answer (the daemon adds the node's enumeration, not read here). */
export interface BondNodeLocalResponse {
  assignedAddr: number;
  nodesNr?: number;
  hwpId?: number;
  manufacturer?: string;
  product?: string;
  osRead?: { mid?: string };
}

/** A DPA request to one node's standard peripheral: its address and the command's parameters. */
export interface NodeRequest<TParam> {
  nAdr: number;
  /** Refuses the command on a node of another hardware profile (0xFFFF: any). */
  hwpId?: number;
  param: TParam;
}

/**
 * One output of an `iqrfBinaryoutput_SetOutput` (api/iqrfBinaryoutput_SetOutput-request-1-0-0.json):
 * `time` (seconds, 1-127 or 60 x 1-127, see `isActuatorTime`) keeps an output switched ON that long,
 * then switches it OFF.
 */
export interface BinaryOutputCommand {
  index: number;
  state: boolean;
  time?: number;
}

/**
 * One light of an `iqrfLight_SetPower` (power 0-100; 127 only reports it), `_IncrementPower` or
 * `_DecrementPower` (power is the step), as api/iqrfLight_SetPower-request-1-0-0.json defines it;
 * `time` as for a binary output.
 */
export interface LightCommand {
  index: number;
  power: number;
  time?: number;
}

/**
 * The answer of a Light power command (api/iqrfLight_SetPower-response-1-0-0.json): the power each
 * light the request named had before it, in ascending light index (0 for an unimplemented light).
 */
export interface LightPowerResult {
  prevVals: number[];
}

/** One DALI answer of `iqrfDali_SendCommands` (api/iqrfDali_SendCommands-response-1-0-0.json), per command. */
export interface DaliAnswer {
  status: number;
  value: number;
}

/** Request and response of each mType the platform sends. */
export interface IqrfApi {
  mngDaemon_Version: { request: undefined; response: { version: string } };
  iqrfEmbedCoordinator_BondedDevices: {
    request: { nAdr: 0; param: Record<string, never> };
    response: DpaResponse<{ bondedDevices: number[] }>;
  };
  iqrfDb_GetNetworkTopology: { request: Record<string, never>; response: { devices: TopologyDevice[] } };
  iqrfSensor_Enumerate: { request: { nAdr: number; param: Record<string, never> }; response: DpaResponse<{ sensors: EnumeratedSensor[] }> };
  iqrfSensor_Frc: { request: FrcRequest; response: DpaResponse<FrcResult> & { pnum?: number; pcmd?: number } };
  iqrfSensor_ReadSensorsWithTypes: {
    request: ReadSensorsRequest;
    response: DpaResponse<{ sensors: SensorValue[]; sensorIndexes?: number[] | -1 }>;
  };
  iqmeshNetwork_BondNodeLocal: { request: { deviceAddr: number }; response: BondNodeLocalResponse };
  iqmeshNetwork_RemoveBond: { request: { deviceAddr: number; hwpId?: number; wholeNetwork?: boolean }; response: { nodesNr?: number } };
  /** Answered in several messages under one msgId (`IqrfClient.stream`). */
  iqmeshNetwork_AutoNetwork: { request: AutoNetworkRequest; response: AutoNetworkProgress };
  /** How many binary outputs (relays, valves) the node implements (api/iqrfBinaryoutput_Enumerate-*.json). */
  iqrfBinaryoutput_Enumerate: { request: NodeRequest<Record<string, never>>; response: DpaResponse<{ binOuts: number }> };
  /**
   * Switches the outputs named (none: only reports); answers the previous state of all 32 outputs,
   * false for unimplemented ones (api/iqrfBinaryoutput_SetOutput-*.json).
   */
  iqrfBinaryoutput_SetOutput: {
    request: NodeRequest<{ binOuts: BinaryOutputCommand[] }>;
    response: DpaResponse<{ prevVals: boolean[] }>;
  };
  /** How many lights the node implements (the Light standard, api/iqrfLight_Enumerate-*.json, daemon before v2.6). */
  iqrfLight_Enumerate: { request: NodeRequest<Record<string, never>>; response: DpaResponse<{ lights: number }> };
  iqrfLight_SetPower: { request: NodeRequest<{ lights: LightCommand[] }>; response: DpaResponse<LightPowerResult> };
  iqrfLight_IncrementPower: { request: NodeRequest<{ lights: LightCommand[] }>; response: DpaResponse<LightPowerResult> };
  iqrfLight_DecrementPower: { request: NodeRequest<{ lights: LightCommand[] }>; response: DpaResponse<LightPowerResult> };
  /** 16-bit DALI commands (YAAAAAAS DDDDDDDD) to the node's DALI bus, one answer each. */
  iqrfDali_SendCommands: { request: NodeRequest<{ commands: number[] }>; response: DpaResponse<{ answers: DaliAnswer[] }> };
}

/** An mType the platform sends (a key of `IqrfApi`). */
export type MType = keyof IqrfApi;

/** The mTypes by name: use these, not string literals. */
export const MType = {
  DAEMON_VERSION: 'mngDaemon_Version',
  BONDED_DEVICES: 'iqrfEmbedCoordinator_BondedDevices',
  NETWORK_TOPOLOGY: 'iqrfDb_GetNetworkTopology',
  SENSOR_ENUMERATE: 'iqrfSensor_Enumerate',
  SENSOR_FRC: 'iqrfSensor_Frc',
  READ_SENSORS_WITH_TYPES: 'iqrfSensor_ReadSensorsWithTypes',
  BOND_NODE_LOCAL: 'iqmeshNetwork_BondNodeLocal',
  REMOVE_BOND: 'iqmeshNetwork_RemoveBond',
  AUTO_NETWORK: 'iqmeshNetwork_AutoNetwork',
  BINARY_OUTPUT_ENUMERATE: 'iqrfBinaryoutput_Enumerate',
  BINARY_OUTPUT_SET: 'iqrfBinaryoutput_SetOutput',
  LIGHT_ENUMERATE: 'iqrfLight_Enumerate',
  LIGHT_SET_POWER: 'iqrfLight_SetPower',
  LIGHT_INCREMENT_POWER: 'iqrfLight_IncrementPower',
  LIGHT_DECREMENT_POWER: 'iqrfLight_DecrementPower',
  DALI_SEND_COMMANDS: 'iqrfDali_SendCommands',
} as const satisfies Record<string, MType>;

/** The mType of the daemon's answer to a message it could not parse or does not know. */
export const MESSAGE_ERROR = 'messageError';

/** What `data.req` of an mType's request holds. */
export type RequestOf<M extends MType> = IqrfApi[M]['request'];
/** What `data.rsp` of an mType's status 0 answer holds, once validated. */
export type ResponseOf<M extends MType> = IqrfApi[M]['response'];

/** Checks an answer's `data.rsp`; the error names the first field that is wrong. */
export type ResponseValidator<T> = (rsp: unknown) => ValidationResult<T>;

/** The validator of each mType's response. */
export const responseValidators: { readonly [M in MType]: ResponseValidator<ResponseOf<M>> } = {
  mngDaemon_Version: (rsp) => {
    if (!isObject(rsp)) return fail('rsp is not an object');
    if (typeof rsp.version !== 'string') return fail('rsp.version is not a string');
    return ok({ version: rsp.version });
  },
  iqrfEmbedCoordinator_BondedDevices: (rsp) =>
    dpa(rsp, (result) => {
      const error = addressesError(result.bondedDevices, 'rsp.result.bondedDevices', 1);
      return error ? fail(error) : ok({ bondedDevices: result.bondedDevices as number[] });
    }),
  iqrfDb_GetNetworkTopology: (rsp) => {
    if (!isObject(rsp)) return fail('rsp is not an object');
    if (!Array.isArray(rsp.devices)) return fail('rsp.devices is not an array');
    for (const [i, device] of rsp.devices.entries()) {
      const error = topologyDeviceError(device, `rsp.devices[${i}]`);
      if (error) return fail(error);
    }
    return ok(rsp as { devices: TopologyDevice[] });
  },
  iqrfSensor_Enumerate: (rsp) =>
    dpa(rsp, (result) => {
      if (!Array.isArray(result.sensors)) return fail('rsp.result.sensors is not an array');
      for (const [i, sensor] of result.sensors.entries()) {
        const error = enumeratedSensorError(sensor, `rsp.result.sensors[${i}]`);
        if (error) return fail(error);
      }
      return ok({ sensors: result.sensors as EnumeratedSensor[] });
    }),
  iqrfSensor_Frc: (rsp) =>
    dpa(rsp, (result) => {
      if (!Array.isArray(result.sensors)) return fail('rsp.result.sensors is not an array');
      if (!isInteger(result.sensorIndex)) return fail('rsp.result.sensorIndex is not an integer');
      if (result.selectedNodes !== undefined) {
        const error = addressesError(result.selectedNodes, 'rsp.result.selectedNodes', 0);
        if (error) return fail(error);
      }
      // One bad entry (a node's garbled value) does not spoil the others: it is kept, marked.
      const sensors = result.sensors.map((entry: unknown, i): FrcEntry => {
        const parsed = parseSensorValue(entry, `rsp.result.sensors[${i}]`);
        return parsed.ok ? parsed.value : { invalid: parsed.error };
      });
      return ok({
        sensors,
        sensorIndex: result.sensorIndex,
        ...(result.selectedNodes ? { selectedNodes: result.selectedNodes as number[] } : {}),
      });
    }),
  iqrfSensor_ReadSensorsWithTypes: (rsp) =>
    dpa(rsp, (result) => {
      if (!Array.isArray(result.sensors)) return fail('rsp.result.sensors is not an array');
      for (const [i, entry] of result.sensors.entries()) {
        const parsed = parseSensorValue(entry, `rsp.result.sensors[${i}]`);
        if (!parsed.ok) return fail(parsed.error);
        if (parsed.value === null) return fail(`rsp.result.sensors[${i}] is null`);
      }
      return ok(result as { sensors: SensorValue[]; sensorIndexes?: number[] | -1 });
    }),
  iqmeshNetwork_BondNodeLocal: (rsp) => {
    if (!isObject(rsp)) return fail('rsp is not an object');
    if (!isAddress(rsp.assignedAddr, 1)) return fail('rsp.assignedAddr is not a node address (1-239)');
    if (rsp.nodesNr !== undefined && !isCount(rsp.nodesNr)) return fail('rsp.nodesNr is not a non-negative integer');
    return ok(rsp as unknown as BondNodeLocalResponse);
  },
  iqmeshNetwork_RemoveBond: (rsp) => {
    if (!isObject(rsp)) return fail('rsp is not an object');
    if (rsp.nodesNr !== undefined && !isCount(rsp.nodesNr)) return fail('rsp.nodesNr is not a non-negative integer');
    return ok(rsp as { nodesNr?: number });
  },
  iqmeshNetwork_AutoNetwork: (rsp) => {
    if (!isObject(rsp)) return fail('rsp is not an object');
    if (!isCount(rsp.wave)) return fail('rsp.wave is not a non-negative integer');
    for (const key of ['waveStateCode', 'progress', 'nodesNr', 'newNodesNr'] as const) {
      if (rsp[key] !== undefined && !isCount(rsp[key])) return fail(`rsp.${key} is not a non-negative integer`);
    }
    if (rsp.waveState !== undefined && typeof rsp.waveState !== 'string') return fail('rsp.waveState is not a string');
    if (rsp.lastWave !== undefined && typeof rsp.lastWave !== 'boolean') return fail('rsp.lastWave is not a boolean');
    if (rsp.newNodes !== undefined) {
      if (!Array.isArray(rsp.newNodes)) return fail('rsp.newNodes is not an array');
      const bad = rsp.newNodes.findIndex((n) => !isObject(n) || !isAddress(n.address, 1) || typeof n.mid !== 'string');
      if (bad >= 0) return fail(`rsp.newNodes[${bad}] is not {address: 1-239, mid: string}`);
    }
    return ok(rsp as unknown as AutoNetworkProgress);
  },
  iqrfBinaryoutput_Enumerate: (rsp) =>
    dpa(rsp, (result) =>
      isInteger(result.binOuts) && result.binOuts >= 0 && result.binOuts <= BINARY_OUTPUTS
        ? ok({ binOuts: result.binOuts })
        : fail(`rsp.result.binOuts is not a number of binary outputs (0-${BINARY_OUTPUTS})`),
    ),
  iqrfBinaryoutput_SetOutput: (rsp) =>
    dpa(rsp, (result) => {
      const error = arrayError(result.prevVals, 'rsp.result.prevVals', (state) => typeof state === 'boolean', 'a boolean');
      return error ? fail(error) : ok({ prevVals: result.prevVals as boolean[] });
    }),
  iqrfLight_Enumerate: (rsp) =>
    dpa(rsp, (result) =>
      isCount(result.lights) ? ok({ lights: result.lights }) : fail('rsp.result.lights is not a non-negative integer'),
    ),
  iqrfLight_SetPower: (rsp) => dpa(rsp, lightPowerResult),
  iqrfLight_IncrementPower: (rsp) => dpa(rsp, lightPowerResult),
  iqrfLight_DecrementPower: (rsp) => dpa(rsp, lightPowerResult),
  iqrfDali_SendCommands: (rsp) =>
    dpa(rsp, (result) => {
      if (!Array.isArray(result.answers)) return fail('rsp.result.answers is not an array');
      for (const [i, answer] of result.answers.entries()) {
        if (!isObject(answer)) return fail(`rsp.result.answers[${i}] is not an object`);
        for (const key of ['status', 'value'] as const)
          if (!isByte(answer[key])) return fail(`rsp.result.answers[${i}].${key} is not a byte (0-255)`);
      }
      return ok({ answers: result.answers as DaliAnswer[] });
    }),
};

/**
 * Whether `seconds` is a time a Binary Output or Light command can carry: 1-127 s, or 1-127 whole
 * minutes (the standards encode the unit in one bit of a byte).
 */
export function isActuatorTime(seconds: number): boolean {
  const inRange = (n: number) => Number.isInteger(n) && n >= 1 && n <= 127;
  return inRange(seconds) || inRange(seconds / 60);
}

/** Whether `mType` is one of the map's (an answer's mType may be anything). */
export function isMType(mType: string): mType is MType {
  return Object.hasOwn(responseValidators, mType);
}

/** Validates the `data.rsp` of an answer to `mType` with the map's validator. */
export function validateResponse<M extends MType>(mType: M, rsp: unknown): ValidationResult<ResponseOf<M>> {
  const validate: ResponseValidator<ResponseOf<M>> | undefined = responseValidators[mType];
  return validate ? validate(rsp) : fail(`${mType} is not an mType of the IQRF API`);
}

/** Whether an FRC entry is one the validator refused. */
export function isInvalidEntry(entry: FrcEntry): entry is InvalidSensorEntry {
  return entry !== null && 'invalid' in entry;
}

/** The last address of a mesh (0 is the coordinator). */
const MAX_ADDRESS = 239;
/** Outputs the Binary Output standard addresses (its SetOutput answer reports all of them). */
const BINARY_OUTPUTS = 32;
/** The full power of a light (the Light standard's 0-100 %). */
const FULL_POWER = 100;

function lightPowerResult(result: Record<string, unknown>): ValidationResult<LightPowerResult> {
  const error = arrayError(
    result.prevVals,
    'rsp.result.prevVals',
    (power) => isInteger(power) && power >= 0 && power <= FULL_POWER,
    `a power level (0-${FULL_POWER})`,
  );
  return error ? fail(error) : ok({ prevVals: result.prevVals as number[] });
}

function arrayError(value: unknown, where: string, isItem: (item: unknown) => boolean, what: string): string | undefined {
  if (!Array.isArray(value)) return `${where} is not an array`;
  const bad = value.findIndex((item) => !isItem(item));
  return bad < 0 ? undefined : `${where}[${bad}] is not ${what}`;
}

function dpa<T>(rsp: unknown, check: (result: Record<string, unknown>) => ValidationResult<T>): ValidationResult<DpaResponse<T>> {
  if (!isObject(rsp)) return fail('rsp is not an object');
  for (const key of ['nAdr', 'hwpId', 'rCode', 'dpaVal'] as const) {
    if (rsp[key] !== undefined && !isInteger(rsp[key])) return fail(`rsp.${key} is not an integer`);
  }
  if (!isObject(rsp.result)) return fail('rsp.result is not an object');
  const result = check(rsp.result);
  return result.ok ? ok({ ...(rsp as Omit<DpaResponse<T>, 'result'>), result: result.value }) : result;
}

function topologyDeviceError(device: unknown, where: string): string | undefined {
  if (!isObject(device)) return `${where} is not an object`;
  if (!isAddress(device.address, 0)) return `${where}.address is not an address (0-239)`;
  if (!isCount(device.vrn)) return `${where}.vrn is not a non-negative integer`;
  if (!isCount(device.zone)) return `${where}.zone is not a non-negative integer`;
  if (device.parent !== null && !isAddress(device.parent, 0)) return `${where}.parent is neither null nor an address (0-239)`;
  if (device.os !== undefined && typeof device.os !== 'string') return `${where}.os is not a string`;
  if (device.dpa !== undefined && !isCount(device.dpa)) return `${where}.dpa is not a non-negative integer`;
  return undefined;
}

function enumeratedSensorError(sensor: unknown, where: string): string | undefined {
  if (!isObject(sensor)) return `${where} is not an object`;
  if (!isInteger(sensor.type)) return `${where}.type is not an integer`;
  for (const key of ['id', 'name', 'unit'] as const) if (typeof sensor[key] !== 'string') return `${where}.${key} is not a string`;
  if (!isCount(sensor.decimalPlaces)) return `${where}.decimalPlaces is not a non-negative integer`;
  if (!Array.isArray(sensor.frcs) || !sensor.frcs.every(isCount)) return `${where}.frcs is not an array of FRC commands`;
  return undefined;
}

function addressesError(value: unknown, where: string, min: number): string | undefined {
  if (!Array.isArray(value)) return `${where} is not an array`;
  const bad = value.findIndex((address) => !isAddress(address, min));
  return bad < 0 ? undefined : `${where}[${bad}] is not an address (${min}-${MAX_ADDRESS})`;
}

function isAddress(value: unknown, min: number): value is number {
  return isInteger(value) && value >= min && value <= MAX_ADDRESS;
}

function isCount(value: unknown): value is number {
  return isInteger(value) && value >= 0;
}

function isByte(value: unknown): value is number {
  return isInteger(value) && value >= 0 && value <= 255;
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function ok<T>(value: T): ValidationResult<T> {
  return { ok: true, value };
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}
