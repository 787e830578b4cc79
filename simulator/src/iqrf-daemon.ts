import type { MqttClient } from 'mqtt';
import {
  defaultTopics,
  gatewayFromTopic,
  isObject,
  MESSAGE_ERROR,
  MType,
  sensorTypes,
  SensorType,
  Quantity,
  topicFor,
  type AutoNetworkProgress,
  type BinaryOutputCommand,
  type DaemonResponse,
  type EnumeratedSensor,
  type LightCommand,
  type SensorValue,
  type TopicScheme,
  type TopologyDevice,
} from '#iqrf';
import type { Logger } from '#log';
import { ActuatorBank, type LightOperation } from './actuators.ts';
import { seededRandom } from './random.ts';
import type { Scenario, ScenarioGateway, ScenarioNode, ScenarioSensor } from './scenario.ts';
import { signalValue } from './signals.ts';

/** What a gateway's daemon connects with: its own identity on the platform's broker. */
export interface DaemonCredentials {
  username: string;
  password: string;
}

export interface IqrfDaemonSimulatorOptions {
  /**
   * How each gateway's daemon reaches the broker: a connection of its own per gateway, with the
   * credentials the platform issued it (`setCredentials`), as a real gateway. A daemon without
   * credentials stays dark.
   */
  connect?: (credentials: DaemonCredentials) => MqttClient;
  /**
   * Or one connection answering for every gateway (benchmarks and tests of a broker without
   * accounts; the platform's brokers refuse it).
   */
  mqtt?: MqttClient;
  scenario: Scenario;
  logger: Logger;
  topics?: TopicScheme;
  /**
   * Share of FRC answers where a node gives nothing (`null`), as radio loss does, and of actuator
   * commands the daemon answers with its DPA timeout (half of them lost on the way back: the
   * command took effect unconfirmed). Default 0.
   */
  lossRate?: number;
  /** The clock of the simulated sensors. */
  now?: () => Date;
  /** Called after a mesh changed or a gateway booted or went away (the simulator saves its state). */
  onChange?: () => void;
}

/** The standard sensors a newly bonded node brings (a DDC-SE-01 style environment sensor). */
export const bondedNodeSensors: ScenarioSensor[] = [
  { type: SensorType.TEMPERATURE, quantity: Quantity.TEMPERATURE },
  { type: SensorType.HUMIDITY, quantity: Quantity.HUMIDITY },
  { type: SensorType.CO2, quantity: Quantity.CO2 },
];

interface SimulatedGateway {
  spec: ScenarioGateway;
  nodes: Map<number, ScenarioNode>;
  /** Last read time per `${address}:${sensorIndex}`, for counters that count since the last read. */
  lastRead: Map<string, number>;
  /** Its own connection (with `connect`). */
  mqtt?: MqttClient;
  /** Resolves once that connection first subscribed to the gateway's requests. */
  listening?: Promise<void>;
}

/**
 * An IQRF Gateway Daemon for every gateway of the scenario, over MQTT: answers the JSON API
 * requests on each gateway's request topic with the daemon's message shapes. Gateways can be
 * added (a new gateway boots) and removed (it goes dark: requests are not answered).
 */
export class IqrfDaemonSimulator {
  private readonly gateways = new Map<string, SimulatedGateway>();
  private readonly random: () => number;
  private readonly topics: TopicScheme;
  private readonly capacities = new Map<string, number>();
  private readonly now: () => Date;
  private readonly credentials = new Map<string, DaemonCredentials>();
  /** Gateways that hang once they answered this many more requests. */
  private readonly answersLeft = new Map<string, number>();
  private readonly radioStuck = new Set<string>();
  /** `<gatewayId>:<address>` of nodes that do not answer over the radio. */
  private readonly deadNodes = new Set<string>();
  /** Gateways whose mesh is not (or no longer) the scenario's: what `changedGateways` gives. */
  private readonly changed = new Set<string>();
  /** The nodes' relays and lights. */
  private readonly actuators = new ActuatorBank();
  /** `<gatewayId>:<address>` of nodes whose next actuator commands are carried out with their answers lost: how many more. */
  private readonly lostAnswers = new Map<string, number>();
  /** Actuator commands (not reads) each node received, by `<gatewayId>:<address>`. */
  private readonly commandCounts = new Map<string, number>();
  /** How far the simulated clock is ahead of `now` (`advanceClock`). */
  private clockOffsetMs = 0;
  private started = false;
  private readonly onMessage = (topic: string, payload: Buffer) => {
    const gatewayId = gatewayFromTopic(this.topics.requests, topic);
    if (gatewayId === undefined) return;
    const gateway = this.gateways.get(gatewayId);
    if (gateway) this.handle(gateway, payload);
  };

  constructor(private readonly options: IqrfDaemonSimulatorOptions) {
    this.random = seededRandom(options.scenario.seed ^ 0x1f2e3d);
    this.topics = options.topics ?? defaultTopics;
    const now = options.now ?? (() => new Date());
    this.now = () => new Date(now().getTime() + this.clockOffsetMs);
    for (const gateway of options.scenario.gateways) this.gateways.set(gateway.id, newGateway(gateway));
    for (const lot of options.scenario.parkingLots) this.capacities.set(`${lot.gatewayId}:${lot.counterAddress}`, lot.capacity);
  }

  async start(): Promise<void> {
    this.started = true;
    const { mqtt } = this.options;
    if (mqtt) {
      mqtt.on('message', this.onMessage);
      await mqtt.subscribeAsync(topicFor(this.topics.requests, '+'), { qos: 1 });
    }
    for (const gateway of this.gateways.values()) this.connectGateway(gateway);
  }

  stop(): void {
    this.started = false;
    this.options.mqtt?.off('message', this.onMessage);
    for (const gateway of this.gateways.values()) this.disconnectGateway(gateway);
  }

  /**
   * Installs a gateway's MQTT credentials (as its installer would), or removes them
   * (`undefined`): its daemon connects again with them, or goes dark.
   */
  setCredentials(gatewayId: string, credentials: DaemonCredentials | undefined): void {
    if (credentials) this.credentials.set(gatewayId, credentials);
    else this.credentials.delete(gatewayId);
    const gateway = this.gateways.get(gatewayId);
    if (!gateway) return;
    // Answers being sent go out first; requests that arrive meanwhile wait in the broker's session.
    const previous = gateway.mqtt;
    gateway.mqtt = undefined;
    if (!previous) return this.connectGateway(gateway);
    void previous.endAsync(false).finally(() => {
      if (this.gateways.get(gatewayId) === gateway) this.connectGateway(gateway);
    });
  }

  /** A gateway boots: its daemon answers from now on (an empty mesh unless `spec.nodes` has some). */
  addGateway(spec: ScenarioGateway): void {
    if (this.gateways.has(spec.id)) return;
    const gateway = newGateway(spec);
    this.gateways.set(spec.id, gateway);
    this.meshChanged(spec.id);
    this.connectGateway(gateway);
  }

  /**
   * A gateway as it was before a restart (from the simulator's state file, or the platform's
   * registry): it boots with that mesh, or a running one takes that mesh over.
   */
  restoreGateway(spec: ScenarioGateway): void {
    const gateway = this.gateways.get(spec.id);
    if (!gateway) return this.addGateway(spec);
    gateway.nodes = new Map(spec.nodes.map((n) => [n.address, { ...n }]));
    this.meshChanged(spec.id);
  }

  /**
   * The gateway's daemon hangs after answering `answers` more requests (0: at once): connected and
   * subscribed, it answers nothing, as a daemon stuck on its coordinator does. `undefined` wakes it.
   */
  hangAfter(id: string, answers: number | undefined): void {
    if (answers === undefined) this.answersLeft.delete(id);
    else this.answersLeft.set(id, answers);
  }

  /**
   * The gateway's coordinator or radio is stuck (`true`): its daemon still answers its own
   * management requests (`mngDaemon_*`, a heartbeat's) but nothing that needs the IQRF network.
   */
  setRadioStuck(id: string, stuck: boolean): void {
    if (stuck) this.radioStuck.add(id);
    else this.radioStuck.delete(id);
  }

  /**
   * A node stops answering over the radio (`false`: a flat battery), as the daemon reports it: an
   * enumeration gets its DPA timeout status, an FRC gives nothing for it.
   */
  setNodeAnswers(id: string, address: number, answers: boolean): void {
    const key = `${id}:${address}`;
    if (answers) this.deadNodes.delete(key);
    else this.deadNodes.add(key);
  }

  /**
   * The node's next `count` actuator commands are carried out, but their answers are lost on the
   * way back: the daemon answers its DPA timeout (status -1), as for a node that did not answer.
   */
  loseCommandAnswers(id: string, address: number, count: number): void {
    this.lostAnswers.set(`${id}:${address}`, count);
  }

  /** How many actuator commands (not reads: an empty `binOuts`, power 127) a node has received. */
  commandsReceived(id: string, address: number): number {
    return this.commandCounts.get(`${id}:${address}`) ?? 0;
  }

  /**
   * Moves the simulated clock forward (sensor signals, timed outputs, a room's airing): tests see
   * a time of day or a quarter of an hour of ventilation without waiting for it.
   */
  advanceClock(ms: number): void {
    this.clockOffsetMs += ms;
  }

  /** The states of a node's binary outputs now, in index order (empty for a node without). */
  outputStates(id: string, address: number): boolean[] {
    const node = this.gateways.get(id)?.nodes.get(address);
    return node ? this.actuators.outputStates(id, node, this.now().getTime()) : [];
  }

  /** The power levels (0-100) of a node's lights now, in index order (empty for a node without). */
  lightPowers(id: string, address: number): number[] {
    const node = this.gateways.get(id)?.nodes.get(address);
    return node ? this.actuators.lightPowers(id, node, this.now().getTime()) : [];
  }

  /** The gateway goes dark. */
  removeGateway(id: string): void {
    const gateway = this.gateways.get(id);
    if (gateway) this.disconnectGateway(gateway);
    this.gateways.delete(id);
    if (this.changed.delete(id) || gateway) this.options.onChange?.();
  }

  /** Gateways booted since the scenario began and those whose mesh changed, with their meshes now. */
  changedGateways(): ScenarioGateway[] {
    return [...this.changed].flatMap((id) => {
      const gateway = this.gateways.get(id);
      return gateway ? [{ ...gateway.spec, nodes: [...gateway.nodes.values()] }] : [];
    });
  }

  private meshChanged(id: string): void {
    this.changed.add(id);
    this.options.onChange?.();
  }

  /** Resolves once every gateway with credentials has subscribed to its requests. */
  async listening(): Promise<void> {
    await Promise.all([...this.gateways.values()].map((gateway) => gateway.listening));
  }

  hasCredentials(id: string): boolean {
    return this.credentials.has(id);
  }

  /** Whether a gateway's daemon is connected to the broker (with its own connection). */
  isConnected(id: string): boolean {
    return Boolean(this.gateways.get(id)?.mqtt?.connected);
  }

  private connectGateway(gateway: SimulatedGateway): void {
    const credentials = this.credentials.get(gateway.spec.id);
    if (!this.started || !this.options.connect || !credentials || gateway.mqtt) return;
    const mqtt = this.options.connect(credentials);
    gateway.mqtt = mqtt;
    const requests = topicFor(this.topics.requests, gateway.spec.id);
    mqtt.on('message', (topic, payload) => {
      if (topic === requests && this.gateways.get(gateway.spec.id) === gateway) this.handle(gateway, payload);
    });
    // A daemon subscribes on every connection, as the real one does.
    gateway.listening = new Promise((resolve) => {
      mqtt.on('connect', () => {
        mqtt.subscribeAsync(requests, { qos: 1 }).then(
          () => resolve(),
          (error: Error) =>
            this.options.logger.warn({ gatewayId: gateway.spec.id, err: error.message }, 'simulated daemon cannot subscribe'),
        );
      });
    });
    mqtt.on('error', (error) =>
      this.options.logger.debug({ gatewayId: gateway.spec.id, err: error.message }, 'simulated daemon: MQTT error'),
    );
  }

  private disconnectGateway(gateway: SimulatedGateway): void {
    gateway.mqtt?.end(true);
    gateway.mqtt = undefined;
  }

  hasGateway(id: string): boolean {
    return this.gateways.has(id);
  }

  /** The nodes a gateway's coordinator has bonded now, with their sensors; undefined for a gateway it does not run. */
  meshOf(id: string): ScenarioNode[] | undefined {
    const gateway = this.gateways.get(id);
    return gateway ? [...gateway.nodes.values()] : undefined;
  }

  /** Bonded node addresses of a gateway (for tests and the cloud simulator). */
  bondedNodes(id: string): number[] {
    return [...(this.gateways.get(id)?.nodes.keys() ?? [])].sort((a, b) => a - b);
  }

  private handle(gateway: SimulatedGateway, payload: Buffer): void {
    let request: unknown;
    try {
      request = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      return this.reply(
        gateway,
        MESSAGE_ERROR,
        'unknown',
        { message: payload.toString('utf8').slice(0, 200), error: (error as Error).message, offset: 0 },
        2,
        'Failed to parse message',
      );
    }
    if (!isObject(request) || typeof request.mType !== 'string' || !isObject(request.data) || typeof request.data.msgId !== 'string') {
      return this.reply(
        gateway,
        MESSAGE_ERROR,
        'unknown',
        { message: payload.toString('utf8').slice(0, 200), error: 'missing mType or data.msgId' },
        1,
        'Failed to validate message',
      );
    }
    const { mType } = request;
    const msgId = request.data.msgId;
    const req = isObject(request.data.req) ? request.data.req : {};
    const param = isObject(req.param) ? req.param : {};
    const left = this.answersLeft.get(gateway.spec.id);
    if (left !== undefined) {
      if (left === 0) return;
      this.answersLeft.set(gateway.spec.id, left - 1);
    }
    // The daemon's own management messages need no radio time: a stuck radio still answers them.
    if (this.radioStuck.has(gateway.spec.id) && mType !== MType.DAEMON_VERSION) return;
    switch (mType) {
      case MType.DAEMON_VERSION:
        return this.reply(gateway, mType, msgId, { version: 'v2.6.0' });
      case MType.BONDED_DEVICES:
        return this.reply(gateway, mType, msgId, {
          nAdr: 0,
          hwpId: 0,
          rCode: 0,
          dpaVal: 0,
          result: { bondedDevices: [...gateway.nodes.keys()].sort((a, b) => a - b) },
        });
      case MType.NETWORK_TOPOLOGY:
        return this.reply(gateway, mType, msgId, { devices: this.topology(gateway) });
      case MType.SENSOR_ENUMERATE:
        return this.enumerate(gateway, msgId, Number(req.nAdr));
      case MType.SENSOR_FRC:
        return this.frc(gateway, msgId, param);
      case MType.READ_SENSORS_WITH_TYPES:
        return this.readSensors(gateway, msgId, Number(req.nAdr), param);
      case MType.BOND_NODE_LOCAL:
        return this.bond(gateway, msgId, Number(req.deviceAddr ?? 0));
      case MType.REMOVE_BOND:
        return this.removeBond(gateway, msgId, Number(req.deviceAddr));
      case MType.AUTO_NETWORK:
        return this.autoNetwork(gateway, msgId, req);
      case MType.BINARY_OUTPUT_ENUMERATE:
      case MType.BINARY_OUTPUT_SET:
      case MType.LIGHT_ENUMERATE:
      case MType.LIGHT_SET_POWER:
      case MType.LIGHT_INCREMENT_POWER:
      case MType.LIGHT_DECREMENT_POWER:
        return this.actuate(gateway, mType, msgId, Number(req.nAdr), param);
      default:
        return this.reply(
          gateway,
          MESSAGE_ERROR,
          msgId,
          { message: mType, error: `Unsupported message type: ${mType}` },
          1,
          'Unsupported message type',
        );
    }
  }

  private topology(gateway: SimulatedGateway): TopologyDevice[] {
    const coordinator: TopologyDevice = { address: 0, vrn: 0, zone: 0, parent: null, os: '4.06D', dpa: 1047 };
    const depth = (node: ScenarioNode): number => {
      let hops = 1;
      for (let parent = gateway.nodes.get(node.parent); parent; parent = gateway.nodes.get(parent.parent)) hops++;
      return hops;
    };
    return [
      coordinator,
      ...[...gateway.nodes.values()].map((node) => ({
        address: node.address,
        vrn: node.address,
        zone: depth(node),
        parent: node.parent,
        os: '4.06D',
        dpa: 1047,
      })),
    ];
  }

  private enumerate(gateway: SimulatedGateway, msgId: string, address: number): void {
    const node = gateway.nodes.get(address);
    if (!node) return this.reply(gateway, MType.SENSOR_ENUMERATE, msgId, { nAdr: address }, 1003, 'ERROR_NADR');
    if (this.deadNodes.has(`${gateway.spec.id}:${address}`))
      return this.reply(gateway, MType.SENSOR_ENUMERATE, msgId, { nAdr: address }, -1, 'ERROR_TIMEOUT');
    const sensors: EnumeratedSensor[] = node.sensors.map((sensor) => {
      const info = sensorTypes.get(sensor.type)!;
      return {
        id: info.id,
        type: sensor.type,
        name: info.name,
        shortName: info.id,
        unit: info.unit,
        decimalPlaces: info.decimalPlaces,
        frcs: [info.frcCommand],
      };
    });
    this.reply(gateway, MType.SENSOR_ENUMERATE, msgId, { nAdr: address, hwpId: 5122, rCode: 0, dpaVal: 0, result: { sensors } });
  }

  private frc(gateway: SimulatedGateway, msgId: string, param: Record<string, unknown>): void {
    const type = Number(param.sensorType);
    const typeIndex = Number(param.sensorIndex ?? 0);
    const selected = Array.isArray(param.selectedNodes) ? param.selectedNodes.map(Number) : undefined;
    const addresses = selected ?? range(0, Math.max(0, ...gateway.nodes.keys()) + 1);
    const time = this.now();
    const sensors = addresses.map((address) => {
      const node = gateway.nodes.get(address);
      const index = node ? indexOfType(node, type, typeIndex) : -1;
      if (!node || index < 0 || this.deadNodes.has(`${gateway.spec.id}:${address}`) || this.random() < (this.options.lossRate ?? 0))
        return null;
      const value = this.sensorValue(gateway, node, index, time);
      return param.extFormat ? { nAdr: address, mid: node.mid, hwpid: 5122, sensor: value } : value;
    });
    this.reply(gateway, MType.SENSOR_FRC, msgId, {
      nAdr: 0,
      pnum: 13,
      pcmd: selected ? 130 : 128,
      hwpId: 0,
      rCode: 0,
      dpaVal: 0,
      result: { sensors, sensorIndex: typeIndex, ...(selected ? { selectedNodes: selected } : {}) },
    });
  }

  private readSensors(gateway: SimulatedGateway, msgId: string, address: number, param: Record<string, unknown>): void {
    const node = gateway.nodes.get(address);
    if (!node) return this.reply(gateway, MType.READ_SENSORS_WITH_TYPES, msgId, { nAdr: address }, 1003, 'ERROR_NADR');
    const wanted = Array.isArray(param.sensorIndexes) ? param.sensorIndexes.map(Number) : range(0, node.sensors.length);
    const time = this.now();
    const sensors = wanted.filter((i) => i < node.sensors.length).map((i) => this.sensorValue(gateway, node, i, time));
    this.reply(gateway, MType.READ_SENSORS_WITH_TYPES, msgId, {
      nAdr: address,
      hwpId: 5122,
      rCode: 0,
      dpaVal: 0,
      result: { sensors, sensorIndexes: wanted },
    });
  }

  private sensorValue(gateway: SimulatedGateway, node: ScenarioNode, index: number, time: Date): SensorValue {
    const sensor = node.sensors[index]!;
    const info = sensorTypes.get(sensor.type)!;
    const key = `${node.address}:${index}`;
    const last = gateway.lastRead.get(key) ?? time.getTime() - 10_000;
    gateway.lastRead.set(key, time.getTime());
    const value = signalValue(sensor.quantity, time, this.random(), {
      intervalSeconds: Math.max(0, (time.getTime() - last) / 1000),
      capacity: this.capacities.get(`${gateway.spec.id}:${node.address}`),
      ...(sensor.quantity === Quantity.CO2 ? { ventilation: this.actuators.ventilation(gateway.spec.id, node, time.getTime()) } : {}),
    });
    return {
      id: info.id,
      type: sensor.type,
      name: info.name,
      shortName: info.id,
      value,
      unit: info.unit,
      decimalPlaces: info.decimalPlaces,
    };
  }

  /** Answers a Binary Output or Light command to one node, as its peripheral and the daemon would. */
  private actuate(gateway: SimulatedGateway, mType: ActuatorMType, msgId: string, address: number, param: Record<string, unknown>): void {
    const node = gateway.nodes.get(address);
    if (!node) return this.reply(gateway, mType, msgId, { nAdr: address }, 1003, 'ERROR_NADR');
    const key = `${gateway.spec.id}:${address}`;
    // A silent node gives the DPA timeout, whatever it was asked: its refusals come from the node too.
    if (this.deadNodes.has(key)) return this.reply(gateway, mType, msgId, { nAdr: address }, -1, 'ERROR_TIMEOUT');
    const binary = mType === MType.BINARY_OUTPUT_ENUMERATE || mType === MType.BINARY_OUTPUT_SET;
    const count = (binary ? node.binaryOutputs : node.lights)?.length ?? 0;
    // A node without the standard's peripheral refuses it, as DPA does.
    if (count === 0) return this.reply(gateway, mType, msgId, { nAdr: address }, 3, 'ERROR_PNUM');
    let applies = true;
    let answers = true;
    const isCommand = isActuatorCommand(mType, param);
    if (isCommand) this.commandCounts.set(key, (this.commandCounts.get(key) ?? 0) + 1);
    const lost = this.lostAnswers.get(key) ?? 0;
    const lossRate = this.options.lossRate ?? 0;
    if (isCommand && lost > 0) {
      this.lostAnswers.set(key, lost - 1);
      answers = false;
    } else if (lossRate > 0 && this.random() < lossRate) {
      // Drawn only with a loss rate, so that commands leave the sensors' random sequence alone by default.
      answers = false;
      applies = this.random() < 0.5;
    }
    const time = this.now().getTime();
    const dpaAnswer = (result: unknown) => ({ nAdr: address, hwpId: binary ? 3074 : 4098, rCode: 0, dpaVal: 64, result });
    let result: unknown;
    if (mType === MType.BINARY_OUTPUT_ENUMERATE) result = { binOuts: count };
    else if (mType === MType.LIGHT_ENUMERATE) result = { lights: count };
    else if (mType === MType.BINARY_OUTPUT_SET) {
      const commands = Array.isArray(param.binOuts) ? (param.binOuts as BinaryOutputCommand[]) : [];
      result = { prevVals: applies ? this.actuators.setOutputs(gateway.spec.id, node, commands, time) : [] };
    } else {
      const commands = Array.isArray(param.lights) ? (param.lights as LightCommand[]) : [];
      const operation = lightOperations[mType];
      result = { prevVals: applies ? this.actuators.setPower(gateway.spec.id, node, operation, commands, time) : [] };
    }
    if (!answers) return this.reply(gateway, mType, msgId, { nAdr: address }, -1, 'ERROR_TIMEOUT');
    this.reply(gateway, mType, msgId, dpaAnswer(result));
  }

  private bond(gateway: SimulatedGateway, msgId: string, requested: number): void {
    const address = requested === 0 ? firstFree(gateway.nodes) : requested;
    if (address === undefined || address < 1 || address > 239 || gateway.nodes.has(address)) {
      return this.reply(gateway, MType.BOND_NODE_LOCAL, msgId, {}, 1001, `Address ${requested} is not free`);
    }
    const mid = Math.floor(this.random() * 0xffffffff)
      .toString(16)
      .padStart(8, '0');
    gateway.nodes.set(address, { address, mid, parent: 0, role: 'SENSOR', name: `node-${address}`, sensors: bondedNodeSensors });
    this.meshChanged(gateway.spec.id);
    this.reply(gateway, MType.BOND_NODE_LOCAL, msgId, {
      assignedAddr: address,
      nodesNr: gateway.nodes.size,
      hwpId: 2,
      manufacturer: 'IQRF Tech s.r.o.',
      product: 'DDC-SE-01 sensor example',
      osRead: { mid },
    });
  }

  private removeBond(gateway: SimulatedGateway, msgId: string, address: number): void {
    if (!gateway.nodes.delete(address)) return this.reply(gateway, MType.REMOVE_BOND, msgId, {}, 1002, `Node ${address} is not bonded`);
    this.actuators.forget(gateway.spec.id, address);
    this.meshChanged(gateway.spec.id);
    this.reply(gateway, MType.REMOVE_BOND, msgId, { nodesNr: gateway.nodes.size });
  }

  /** Bonds up to `stopConditions.waves` x 2 new sensor nodes, streaming progress as the daemon does. */
  private autoNetwork(gateway: SimulatedGateway, msgId: string, req: Record<string, unknown>): void {
    const stop = isObject(req.stopConditions) ? req.stopConditions : {};
    const waves = Math.max(1, Math.min(10, Number(stop.waves ?? 2)));
    const messages: AutoNetworkProgress[] = [];
    for (let wave = 1; wave <= waves; wave++) {
      messages.push({ wave, waveStateCode: 1, waveState: 'SmartConnect.', progress: Math.round(((wave - 1) / waves) * 100) });
      const newNodes: Array<{ mid: string; address: number }> = [];
      for (let i = 0; i < 2; i++) {
        const address = firstFree(gateway.nodes);
        if (address === undefined) break;
        const mid = Math.floor(this.random() * 0xffffffff)
          .toString(16)
          .padStart(8, '0');
        gateway.nodes.set(address, { address, mid, parent: 0, role: 'SENSOR', name: `node-${address}`, sensors: bondedNodeSensors });
        newNodes.push({ mid, address });
      }
      messages.push({
        wave,
        nodesNr: gateway.nodes.size,
        newNodesNr: newNodes.length,
        newNodes,
        progress: Math.round((wave / waves) * 100),
        lastWave: wave === waves,
      });
    }
    this.meshChanged(gateway.spec.id);
    for (const rsp of messages) this.reply(gateway, MType.AUTO_NETWORK, msgId, rsp);
  }

  /** Publishes an answer; `rsp` is what the API map's validator of `mType` accepts when `status` is 0. */
  private reply(
    gateway: SimulatedGateway,
    mType: MType | typeof MESSAGE_ERROR,
    msgId: string,
    rsp: unknown,
    status = 0,
    statusStr = 'ok',
  ): void {
    const response: DaemonResponse = { mType, data: { msgId, rsp, status, statusStr, insId: `iqrfgd2-${gateway.spec.id}` } };
    const mqtt = gateway.mqtt ?? this.options.mqtt;
    mqtt?.publish(topicFor(this.topics.responses, gateway.spec.id), JSON.stringify(response), { qos: 1 });
  }
}

/** The Light standard's power commands. */
type LightPowerMType = typeof MType.LIGHT_SET_POWER | typeof MType.LIGHT_INCREMENT_POWER | typeof MType.LIGHT_DECREMENT_POWER;
/** The actuator mTypes the simulated daemon answers. */
type ActuatorMType = typeof MType.BINARY_OUTPUT_ENUMERATE | typeof MType.BINARY_OUTPUT_SET | typeof MType.LIGHT_ENUMERATE | LightPowerMType;

const lightOperations: { readonly [M in LightPowerMType]: LightOperation } = {
  [MType.LIGHT_SET_POWER]: 'set',
  [MType.LIGHT_INCREMENT_POWER]: 'increment',
  [MType.LIGHT_DECREMENT_POWER]: 'decrement',
};

/** Whether a Binary Output or Light request changes anything (an empty `binOuts` or power 127 only reports). */
function isActuatorCommand(mType: ActuatorMType, param: Record<string, unknown>): boolean {
  if (mType === MType.BINARY_OUTPUT_SET) return Array.isArray(param.binOuts) && param.binOuts.length > 0;
  if (mType === MType.BINARY_OUTPUT_ENUMERATE || mType === MType.LIGHT_ENUMERATE) return false;
  const lights = Array.isArray(param.lights) ? (param.lights as Array<{ power?: unknown }>) : [];
  return mType !== MType.LIGHT_SET_POWER ? lights.length > 0 : lights.some((light) => light.power !== 127);
}

function newGateway(spec: ScenarioGateway): SimulatedGateway {
  return { spec, nodes: new Map(spec.nodes.map((n) => [n.address, { ...n }])), lastRead: new Map() };
}

function indexOfType(node: ScenarioNode, type: number, typeIndex: number): number {
  let seen = 0;
  for (let i = 0; i < node.sensors.length; i++) {
    if (node.sensors[i]!.type !== type) continue;
    if (seen++ === typeIndex) return i;
  }
  return -1;
}

function firstFree(nodes: Map<number, ScenarioNode>): number | undefined {
  for (let address = 1; address <= 239; address++) if (!nodes.has(address)) return address;
  return undefined;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
