import { parseSensorValue, sensorTypes, type FrcRequest, type FrcResult, type IqrfClient } from '#iqrf';
import type { Logger } from '#log';
import type { GatewayRecord, GatewayRegistry, MeshCatalog, SensorInfo } from '#registry';
import type { LiveBus, Reading, TimeSeriesStore } from '#telemetry';

export interface CollectorOptions {
  iqrf: IqrfClient;
  catalog: MeshCatalog;
  registry: GatewayRegistry;
  store: TimeSeriesStore;
  bus: LiveBus;
  logger: Logger;
  /** Time between two polls of a gateway. Default 10 s. */
  intervalMs?: number;
  /** Gateways polled at the same time. Default 32. */
  concurrency?: number;
  now?: () => number;
}

export interface CollectorStats {
  /** Poll rounds started. */
  rounds: number;
  /** Readings written and published. */
  readings: number;
  /** Entries the daemon gave as `null` (the node gave nothing). */
  skippedNulls: number;
  /** Entries that were not a sensor value of the requested type. */
  invalidEntries: number;
  /** Payloads on response topics that were not daemon responses at all. */
  malformedPayloads: number;
  /** FRC requests that failed (timeout, error status, broker down). */
  failedRequests: number;
  /** Readings that could not be stored or published. */
  failedWrites: number;
}

/**
 * The MQTT bridge of the platform: polls each registered gateway's sensors through its IQRF
 * daemon (one `iqrfSensor_Frc` per sensor type and index, for all nodes having it), turns the
 * answers into readings, writes them to the time-series store and publishes them on the live bus.
 */
export class Collector {
  private readonly counters = { rounds: 0, readings: 0, skippedNulls: 0, invalidEntries: 0, failedRequests: 0, failedWrites: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: CollectorOptions) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get stats(): CollectorStats {
    return { ...this.counters, malformedPayloads: this.options.iqrf.stats.malformed };
  }

  /** Polls now, then every `intervalMs` (a round that overruns delays the next one). */
  start(): void {
    this.stopped = false;
    const tick = () => {
      this.running = this.pollAll().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One round over every active gateway; resolves when all readings are written and published. */
  async pollAll(): Promise<void> {
    this.counters.rounds++;
    const gateways = (await this.options.registry.list()).filter((g) => g.status !== 'DECOMMISSIONED');
    const queue = [...gateways];
    const workers = Array.from({ length: Math.min(this.options.concurrency ?? 32, queue.length) }, async () => {
      for (let gateway = queue.shift(); gateway; gateway = queue.shift()) await this.pollGateway(gateway);
    });
    await Promise.all(workers);
  }

  /** Reads every sensor of one gateway once; failures are logged and counted, never thrown. */
  async pollGateway(gateway: GatewayRecord): Promise<Reading[]> {
    let sensors: SensorInfo[];
    try {
      sensors = await this.options.catalog.sensorsOf(gateway);
    } catch (error) {
      this.counters.failedRequests++;
      this.options.logger.warn({ gatewayId: gateway.id, err: (error as Error).message }, 'cannot enumerate sensors');
      return [];
    }
    const groups = new Map<string, SensorInfo[]>();
    for (const sensor of sensors) {
      const key = `${sensor.type}:${sensor.typeIndex}`;
      groups.set(key, [...(groups.get(key) ?? []), sensor]);
    }
    const batches = await Promise.all([...groups.values()].map((group) => this.readGroup(gateway, group)));
    const readings = batches.flat();
    if (readings.length) await this.deliver(readings);
    return readings;
  }

  private async readGroup(gateway: GatewayRecord, group: SensorInfo[]): Promise<Reading[]> {
    const { type, typeIndex } = group[0]!;
    const selectedNodes = group.map((s) => s.address);
    const request: FrcRequest = {
      nAdr: 0,
      param: { sensorType: type, sensorIndex: typeIndex, frcCommand: sensorTypes.get(type)?.frcCommand ?? 224, selectedNodes },
    };
    let result: FrcResult | undefined;
    try {
      const data = await this.options.iqrf.request<{ result?: FrcResult }>(gateway.id, 'iqrfSensor_Frc', request);
      result = data.rsp?.result;
    } catch (error) {
      this.counters.failedRequests++;
      this.options.logger.warn({ gatewayId: gateway.id, sensorType: type, err: (error as Error).message }, 'FRC failed');
      return [];
    }
    if (!result || !Array.isArray(result.sensors)) {
      this.counters.invalidEntries++;
      this.options.logger.warn({ gatewayId: gateway.id, sensorType: type }, 'FRC answer without result.sensors ignored');
      return [];
    }
    const time = this.now();
    const readings: Reading[] = [];
    group.forEach((sensor, i) => {
      const parsed = parseSensorValue(result.sensors[i], `result.sensors[${i}]`);
      if (!parsed.ok || (parsed.value && parsed.value.type !== type)) {
        this.counters.invalidEntries++;
        this.options.logger.warn({ gatewayId: gateway.id, sensorId: sensor.id, error: parsed.ok ? `type ${parsed.value?.type} is not ${type}` : parsed.error }, 'invalid sensor entry ignored');
        return;
      }
      if (parsed.value === null || parsed.value.value === null) {
        this.counters.skippedNulls++;
        return;
      }
      readings.push({ sensorId: sensor.id, gatewayId: gateway.id, tenant: gateway.tenant, quantity: sensor.quantity, time, value: parsed.value.value });
    });
    return readings;
  }

  private async deliver(readings: Reading[]): Promise<void> {
    try {
      await this.options.store.write(readings);
      await this.options.bus.publish(readings);
      this.counters.readings += readings.length;
    } catch (error) {
      this.counters.failedWrites += readings.length;
      this.options.logger.error({ err: (error as Error).message, readings: readings.length }, 'cannot store or publish readings');
    }
  }
}
