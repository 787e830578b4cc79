import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { MType, sensorTypes, type DaemonAnswer, type FrcRequest, type IqrfClient, type MeshCatalog } from '#iqrf';
import type { Logger, ThrottledWarnings } from '#log';
import { describeMeshSensors, type GatewayRecord, type GatewayRegistry, type SensorInfo } from '#registry';
import type { GatewayHeartbeat } from './heartbeat.ts';
import type { CollectorMembership } from './membership.ts';
import type { PollLease } from './poll-lease.ts';
import type { CollectorCounters } from './stats.ts';

export interface PollerOptions {
  iqrf: Pick<IqrfClient, 'request'>;
  catalog: Pick<MeshCatalog, 'mesh' | 'reachable'>;
  registry: Pick<GatewayRegistry, 'list'>;
  /** Time between two polls of a gateway. */
  intervalMs: number;
  /** Gateways polled at the same time. Default 32. */
  concurrency?: number;
  /** With several collectors: who polls which gateway. Alone, a collector polls them all. */
  membership?: Pick<CollectorMembership, 'owns'>;
  /** Gateways whose daemon is silent are not polled; it beats while the poller runs. */
  heartbeat?: Pick<GatewayHeartbeat, 'start' | 'stop' | 'isSilent'>;
  /** The fence between collectors: a gateway is polled in a round only under its lease. */
  lease: PollLease;
  /** Name of this collector as lease holder. */
  holder: string;
  /** An FRC this poller sent was answered: resolves once its readings are handled. */
  onAnswer(gatewayId: string, data: DaemonAnswer<typeof MType.SENSOR_FRC>): Promise<void>;
  counters: CollectorCounters;
  warnings: ThrottledWarnings;
  logger: Logger;
}

/** Share of the poll interval a round's polls are spread over. */
const SPREAD = 0.8;

/**
 * The collector's schedule: a round every `intervalMs` over the active gateways it owns, spread
 * across the interval, each gateway under its lease for the round, one `iqrfSensor_Frc` per
 * sensor type and index for the nodes having it. A gateway that fails is counted and polled again
 * next round; one silent or unreachable is skipped.
 */
export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Aborts the requests of the rounds `start` runs: stopping does not wait out their timeouts. */
  private rounds = new AbortController();
  private stopped = true;

  constructor(private readonly options: PollerOptions) {}

  /** Starts a round now, then every `intervalMs` (a round that overruns delays the next one). */
  start(): void {
    const { intervalMs } = this.options;
    this.stopped = false;
    this.options.heartbeat?.start();
    this.rounds = new AbortController();
    const { signal } = this.rounds;
    // Every request in flight listens to it: up to `concurrency` gateways times their sensor groups.
    setMaxListeners(Infinity, signal);
    const tick = () => {
      const roundStart = Date.now();
      // Gateways are polled one after the other across the interval, not all at its start: the
      // readings (and the work of every live subscription) then arrive evenly, not in bursts.
      this.running = this.pollAll({ spreadOverMs: intervalMs * SPREAD, signal, fenced: true })
        // A round that cannot start (the registry's Redis away) is the next round's to try, not a crash.
        .catch((error: Error) =>
          this.options.warnings.warn('round-failed', 'poll round failed; trying again next interval', { err: error.message }),
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, Math.max(0, roundStart + intervalMs - Date.now()));
        });
    };
    tick();
  }

  /**
   * Stops the rounds and waits for the current one to end. Its requests are not waited for: a
   * gateway that does not answer would hold the stop for the whole IQRF timeout.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.rounds.abort();
    this.options.heartbeat?.stop();
    await this.running;
  }

  /**
   * One round over the active gateways this collector owns, at once or spread over
   * `spreadOverMs`; resolves when their readings are delivered.
   */
  async pollAll(options: { spreadOverMs?: number; signal?: AbortSignal; fenced?: boolean } = {}): Promise<void> {
    this.options.counters.rounds++;
    const { membership } = this.options;
    const gateways = (await this.options.registry.list()).filter(
      (g) => g.status !== 'DECOMMISSIONED' && (!membership || membership.owns(g.id)),
    );
    const started = Date.now();
    const slot = (options.spreadOverMs ?? 0) / Math.max(1, gateways.length);
    const queue = gateways.map((gateway, i) => ({ gateway, at: started + i * slot }));
    const workers = Array.from({ length: Math.min(this.options.concurrency ?? 32, queue.length) }, async () => {
      for (let next = queue.shift(); next && !this.stoppedDuring(options); next = queue.shift()) {
        const wait = next.at - Date.now();
        if (wait > 0) await sleep(wait, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
        if (options.signal?.aborted) break;
        if (options.fenced && !(await this.leaseFor(next.gateway.id))) continue;
        await this.pollGateway(next.gateway, options.signal);
      }
    });
    await Promise.all(workers);
  }

  /** Reads every sensor of one gateway once; failures are logged and counted, never thrown. */
  async pollGateway(gateway: GatewayRecord, signal?: AbortSignal): Promise<void> {
    const { counters, catalog } = this.options;
    if (this.options.heartbeat?.isSilent(gateway.id) || !catalog.reachable(gateway.id)) {
      counters.skippedGateways++;
      return;
    }
    let sensors: SensorInfo[];
    try {
      sensors = describeMeshSensors(gateway, await abortable(catalog.mesh(gateway), signal));
    } catch (error) {
      if (signal?.aborted) return;
      counters.failedRequests++;
      this.options.logger.warn({ gatewayId: gateway.id, err: (error as Error).message }, 'cannot enumerate sensors');
      return;
    }
    const groups = new Map<string, SensorInfo[]>();
    for (const sensor of sensors) {
      const key = `${sensor.type}:${sensor.typeIndex}`;
      groups.set(key, [...(groups.get(key) ?? []), sensor]);
    }
    await Promise.all([...groups.values()].map((group) => this.requestGroup(gateway, group, signal)));
  }

  /** Takes the gateway's lease for this round (half an interval); false: another collector has it, or no lease now. */
  private async leaseFor(gatewayId: string): Promise<boolean> {
    try {
      if (await this.options.lease.acquire(gatewayId, this.options.holder, this.options.intervalMs / 2)) return true;
      this.options.counters.fencedGateways++;
    } catch (error) {
      this.options.counters.skippedGateways++;
      this.options.warnings.warn('lease-failed', "cannot take a gateway's poll lease; not polled this round", {
        gatewayId,
        err: (error as Error).message,
      });
    }
    return false;
  }

  // A spread round stops early when the poller stops; an immediate one always finishes.
  private stoppedDuring(options: { spreadOverMs?: number }): boolean {
    return Boolean(options.spreadOverMs) && this.stopped;
  }

  private async requestGroup(gateway: GatewayRecord, group: SensorInfo[], signal?: AbortSignal): Promise<void> {
    const { type, typeIndex } = group[0]!;
    const request: FrcRequest = {
      nAdr: 0,
      param: {
        sensorType: type,
        sensorIndex: typeIndex,
        frcCommand: sensorTypes.get(type)?.frcCommand ?? 224,
        selectedNodes: group.map((s) => s.address).sort((a, b) => a - b),
      },
    };
    this.options.counters.polls++;
    try {
      const data = await abortable(this.options.iqrf.request(gateway.id, MType.SENSOR_FRC, request), signal);
      await this.options.onAnswer(gateway.id, data);
    } catch (error) {
      if (signal?.aborted) return;
      this.options.counters.failedRequests++;
      this.options.logger.warn({ gatewayId: gateway.id, sensorType: type, err: (error as Error).message }, 'FRC failed');
    }
  }
}

/**
 * `promise`, or a rejection as soon as `signal` aborts (the work itself goes on: an IQRF request
 * still ends at its answer or timeout, or when its client closes).
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
