/**
 * The reference of `bench/ingest.ts`: the least an MQTT-to-carbon bridge can do. It polls the same
 * FRC groups as the collector (taken from the scenario, no enumeration), in the same rounds with
 * the same number of gateways in flight, and writes every sensor value of every FRC answer to
 * carbon's plaintext receiver as it arrives: no validation, no registry or catalog lookup, no
 * buffering or replay, no live bus. It connects with a collector-role account (client id = its
 * username) and numbers its own msgIds: the daemons only echo them, nothing of ours checks them. Metric paths: `<prefix>.<gatewayId>.<node>.<sensorIndex>.<type>`.
 */
import { connect, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { sensorTypes } from '#iqrf';
import type { Scenario } from '#simulator';

/** One `iqrfSensor_Frc` request: one sensor type and index, the nodes having it. */
export interface FrcGroup {
  sensorType: number;
  sensorIndex: number;
  frcCommand: number;
  selectedNodes: number[];
}

/** The FRC requests one round sends to each gateway, grouped as the collector groups them. */
export function frcGroups(scenario: Scenario, gatewayIds: ReadonlySet<string>): Array<{ id: string; groups: FrcGroup[] }> {
  return scenario.gateways
    .filter((gateway) => gatewayIds.has(gateway.id))
    .map((gateway) => {
      const groups = new Map<string, FrcGroup>();
      for (const node of gateway.nodes) {
        const seen = new Map<number, number>();
        for (const sensor of node.sensors) {
          const type = Number(sensor.type);
          const sensorIndex = seen.get(type) ?? 0;
          seen.set(type, sensorIndex + 1);
          const key = `${type}:${sensorIndex}`;
          const group = groups.get(key) ?? {
            sensorType: type,
            sensorIndex,
            frcCommand: sensorTypes.get(type)?.frcCommand ?? 224,
            selectedNodes: [],
          };
          group.selectedNodes.push(node.address);
          groups.set(key, group);
        }
      }
      return { id: gateway.id, groups: [...groups.values()] };
    });
}

export interface PlainRelayOptions {
  mqttUrl: string;
  /** A `collector` account of the broker; the client id is its username. */
  credentials: { username: string; password: string };
  /** `tcp://host:port` of carbon's line receiver. */
  carbonUrl: string;
  gateways: Array<{ id: string; groups: FrcGroup[] }>;
  /** Gateways polled at the same time (the collector's `concurrency`). */
  concurrency: number;
  prefix: string;
  timeoutMs?: number;
}

/** See the top of this file. */
export class PlainRelay {
  readonly stats = { rounds: 0, polls: 0, readings: 0, timeouts: 0, slots: 0, maxSocketBacklogBytes: 0 };
  private client: MqttClient | undefined;
  private socket: Socket | undefined;
  private readonly pending = new Map<string, () => void>();
  /** Last second written per metric, to count distinct (metric, second) slots as Graphite keeps them. */
  private readonly lastSecond = new Map<string, number>();
  private nextId = 0;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: PlainRelayOptions) {}

  async start(): Promise<void> {
    const carbon = new URL(this.options.carbonUrl);
    this.socket = await new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: carbon.hostname, port: Number(carbon.port) }, () => resolve(socket));
      socket.once('error', reject);
    });
    this.socket.setNoDelay(true);
    this.client = await mqtt.connectAsync(this.options.mqttUrl, {
      protocolVersion: 5,
      clientId: this.options.credentials.username,
      username: this.options.credentials.username,
      password: this.options.credentials.password,
    });
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
    await this.client.subscribeAsync('gateway/+/iqrf/responses', { qos: 1 });
    this.running = this.loop();
  }

  /** Stops polling, waits for the answers in flight, and closes both connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await this.client?.endAsync();
    const socket = this.socket;
    if (socket) await new Promise<void>((resolve) => socket.end(() => resolve()));
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.stats.rounds++;
      const queue = [...this.options.gateways];
      const workers = Array.from({ length: Math.min(this.options.concurrency, queue.length) }, async () => {
        for (let gateway = queue.shift(); gateway && !this.stopped; gateway = queue.shift()) {
          await Promise.all(gateway.groups.map((group) => this.request(gateway.id, group)));
        }
      });
      await Promise.all(workers);
    }
  }

  private request(gatewayId: string, param: FrcGroup): Promise<void> {
    const msgId = `r${this.nextId++}`;
    this.stats.polls++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(msgId);
        this.stats.timeouts++;
        resolve();
      }, this.options.timeoutMs ?? 10_000);
      this.pending.set(msgId, () => {
        clearTimeout(timer);
        resolve();
      });
      const request = { mType: 'iqrfSensor_Frc', data: { msgId, req: { nAdr: 0, param }, returnVerbose: false } };
      this.client!.publish(`gateway/${gatewayId}/iqrf/requests`, JSON.stringify(request), { qos: 1 });
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const gatewayId = topic.split('/')[1];
    const message = JSON.parse(payload.toString()) as {
      mType: string;
      data: {
        msgId: string;
        rsp?: { result?: { sensors: Array<{ type: number; value: number | null } | null>; sensorIndex: number; selectedNodes?: number[] } };
      };
    };
    if (message.mType !== 'iqrfSensor_Frc') return;
    const result = message.data.rsp?.result;
    if (result) {
      const second = Math.floor(Date.now() / 1000);
      let lines = '';
      result.sensors.forEach((sensor, i) => {
        if (!sensor || typeof sensor.value !== 'number') return;
        const metric = `${this.options.prefix}.${gatewayId}.${result.selectedNodes?.[i] ?? i}.${result.sensorIndex}.${sensor.type}`;
        lines += `${metric} ${sensor.value} ${second}\n`;
        this.stats.readings++;
        if (this.lastSecond.get(metric) !== second) {
          this.lastSecond.set(metric, second);
          this.stats.slots++;
        }
      });
      if (lines) this.socket!.write(lines);
      this.stats.maxSocketBacklogBytes = Math.max(this.stats.maxSocketBacklogBytes, this.socket!.writableLength);
    }
    const done = this.pending.get(message.data.msgId);
    this.pending.delete(message.data.msgId);
    done?.();
  }
}
