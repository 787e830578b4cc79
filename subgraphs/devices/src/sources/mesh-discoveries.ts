import { randomUUID } from 'node:crypto';
import { MType, type AutoNetworkRequest, type IqrfClient } from '#iqrf';
import type { Logger } from '#log';
import { EventQueue } from './event-queue.ts';

export type DiscoveryState = 'RUNNING' | 'COMPLETED' | 'FAILED';

/** What `iqmeshNetwork_AutoNetwork` is asked to do. */
export interface DiscoveryParams {
  waves: number;
  emptyWaves: number;
  txPower: number;
}

/** A run as the API shows it, and as an idempotent `discoverMesh` stores it (plain JSON). */
export interface DiscoverySummary {
  id: string;
  gatewayId: string;
  waves: number;
  state: DiscoveryState;
  /** ISO-8601. */
  startedAt: string;
  finishedAt: string | null;
  /** Addresses the run bonded so far. */
  newNodes: number[];
  error: string | null;
}

/** One message of a run: a wave's step, a wave's result, or (state not RUNNING) its end. */
export interface DiscoveryEvent {
  discoveryId: string;
  gatewayId: string;
  wave: number;
  waveState: string | null;
  progress: number | null;
  newNodes: number[];
  nodesTotal: number | null;
  state: DiscoveryState;
  error: string | null;
}

/** A discovery runs on the gateway already. */
export class DiscoveryRunningError extends Error {
  constructor(readonly running: DiscoverySummary) {
    super(`A mesh discovery (${running.id}) is already running on gateway "${running.gatewayId}"`);
    this.name = 'DiscoveryRunningError';
  }
}

export interface MeshDiscoveriesOptions {
  iqrf: Pick<IqrfClient, 'stream'>;
  logger: Logger;
  /** Called when a run bonded nodes (after each such wave, with their addresses): caches of the mesh must go. */
  onMeshChanged: (gatewayId: string, bonded: readonly number[]) => Promise<void>;
  /** How long a finished run stays known (for `meshDiscovery(discoveryId)` and its state). Default 10 min. */
  retentionMs?: number;
  /** Longest wait between two messages of a run; a wave takes tens of seconds on a real mesh. Default 3 min. */
  messageTimeoutMs?: number;
}

interface Run {
  summary: DiscoverySummary;
  events: DiscoveryEvent[];
}

/**
 * Mesh discovery runs (`iqmeshNetwork_AutoNetwork`, whose daemon answers in several messages under
 * one msgId), one at a time per gateway, with their progress as events for subscriptions. Runs
 * and their events live in this process: the API instance that starts a run serves its progress.
 */
export class MeshDiscoveries {
  private readonly runs = new Map<string, Run>();
  /** Live subscriptions: each takes the events it wants and ends its own queue. */
  private readonly subscribers = new Map<(event: DiscoveryEvent) => void, { gatewayId: string; queue: EventQueue<DiscoveryEvent> }>();
  private closed = false;

  constructor(private readonly options: MeshDiscoveriesOptions) {}

  /** The run, while it runs and for the retention after. */
  get(id: string): DiscoverySummary | undefined {
    this.prune();
    return this.runs.get(id)?.summary;
  }

  /** The run in progress on the gateway, if any. */
  runningOn(gatewayId: string): DiscoverySummary | undefined {
    return this.running(gatewayId)?.summary;
  }

  /** Starts a run on the gateway; throws `DiscoveryRunningError` while another runs there. */
  start(gatewayId: string, params: DiscoveryParams): DiscoverySummary {
    this.prune();
    const running = this.running(gatewayId);
    if (running) throw new DiscoveryRunningError(running.summary);
    const run: Run = {
      summary: {
        id: randomUUID(),
        gatewayId,
        waves: params.waves,
        state: 'RUNNING',
        startedAt: new Date().toISOString(),
        finishedAt: null,
        newNodes: [],
        error: null,
      },
      events: [],
    };
    this.runs.set(run.summary.id, run);
    void this.execute(run, params);
    return { ...run.summary };
  }

  /**
   * Events of the gateway's runs for a subscription. With `discoveryId`: that run's events from
   * the first, ending after its last (undefined when the run is unknown). Without: the running
   * run's events so far, then every later event of the gateway, never ending.
   */
  events(gatewayId: string, discoveryId?: string): AsyncIterableIterator<DiscoveryEvent> | undefined {
    this.prune();
    const run = discoveryId === undefined ? this.running(gatewayId) : this.runs.get(discoveryId);
    if (discoveryId !== undefined && run?.summary.gatewayId !== gatewayId) return undefined;
    const queue = new EventQueue<DiscoveryEvent>(() => this.subscribers.delete(listener));
    const listener = (event: DiscoveryEvent) => {
      if (event.gatewayId !== gatewayId || (discoveryId !== undefined && event.discoveryId !== discoveryId)) return;
      queue.push(event);
      if (discoveryId !== undefined && event.state !== 'RUNNING') queue.end();
    };
    // The replay and the live events join without a gap: nothing runs between these lines.
    for (const event of run?.events ?? []) listener(event);
    if (discoveryId !== undefined && run!.summary.state !== 'RUNNING') queue.end();
    else this.subscribers.set(listener, { gatewayId, queue });
    return queue;
  }

  /**
   * Forgets the gateway's runs and ends the subscriptions to its events: it was decommissioned,
   * and its id may be registered again by another tenant, who must not see its old runs, nor its
   * old subscribers the new ones.
   */
  endGateway(gatewayId: string): void {
    for (const [id, run] of this.runs) if (run.summary.gatewayId === gatewayId) this.runs.delete(id);
    for (const [listener, subscriber] of this.subscribers) {
      if (subscriber.gatewayId !== gatewayId) continue;
      subscriber.queue.end();
      this.subscribers.delete(listener);
    }
  }

  /** Ends every subscription; runs in progress go on but are no longer reported. */
  close(): void {
    this.closed = true;
    for (const { queue } of this.subscribers.values()) queue.end();
    this.subscribers.clear();
  }

  private running(gatewayId: string): Run | undefined {
    for (const run of this.runs.values()) if (run.summary.gatewayId === gatewayId && run.summary.state === 'RUNNING') return run;
    return undefined;
  }

  private async execute(run: Run, params: DiscoveryParams): Promise<void> {
    const { summary } = run;
    const { iqrf, logger } = this.options;
    const request: AutoNetworkRequest = {
      discoveryTxPower: params.txPower,
      discoveryBeforeStart: false,
      actionRetries: 1,
      stopConditions: { waves: params.waves, emptyWaves: params.emptyWaves },
    };
    let wave = 0;
    try {
      // Each message is validated by the IQRF API map; an invalid one fails the run.
      const messages = iqrf.stream(summary.gatewayId, MType.AUTO_NETWORK, request, (rsp) => rsp.lastWave === true, {
        timeoutMs: this.options.messageTimeoutMs ?? 180_000,
      });
      for await (const progress of messages) {
        wave = progress.wave;
        const newNodes = (progress.newNodes ?? []).map((n) => n.address);
        summary.newNodes.push(...newNodes);
        if (newNodes.length) await this.options.onMeshChanged(summary.gatewayId, newNodes);
        const last = progress.lastWave === true;
        if (last) this.finish(summary, 'COMPLETED', null);
        this.emit(run, {
          wave,
          waveState: progress.waveState ?? null,
          progress: progress.progress ?? null,
          newNodes,
          nodesTotal: progress.nodesNr ?? null,
          state: last ? 'COMPLETED' : 'RUNNING',
          error: null,
        });
      }
      logger.info({ gatewayId: summary.gatewayId, discovery: summary.id, newNodes: summary.newNodes }, 'mesh discovery completed');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.finish(summary, 'FAILED', message);
      this.emit(run, { wave, waveState: null, progress: null, newNodes: [], nodesTotal: null, state: 'FAILED', error: message });
      logger.warn(
        { gatewayId: summary.gatewayId, discovery: summary.id, err: message, newNodes: summary.newNodes },
        'mesh discovery failed',
      );
      // Nodes may have been bonded before the failure, even without a result message saying so.
      await this.options.onMeshChanged(summary.gatewayId, summary.newNodes).catch(() => undefined);
    }
  }

  private finish(summary: DiscoverySummary, state: DiscoveryState, error: string | null): void {
    summary.state = state;
    summary.finishedAt = new Date().toISOString();
    summary.error = error;
  }

  private emit(run: Run, event: Omit<DiscoveryEvent, 'discoveryId' | 'gatewayId'>): void {
    const full = { discoveryId: run.summary.id, gatewayId: run.summary.gatewayId, ...event };
    run.events.push(full);
    if (!this.closed) for (const listener of [...this.subscribers.keys()]) listener(full);
  }

  /** Forgets runs that ended more than the retention ago. */
  private prune(): void {
    const before = Date.now() - (this.options.retentionMs ?? 600_000);
    for (const [id, run] of this.runs) {
      if (run.summary.finishedAt !== null && Date.parse(run.summary.finishedAt) < before) this.runs.delete(id);
    }
  }
}
