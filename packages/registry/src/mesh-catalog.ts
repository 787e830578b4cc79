import type { EnumeratedSensor, IqrfClient, TopologyDevice } from '#iqrf';
import type { Logger } from '#log';
import { describeMeshSensors, type SensorInfo } from './catalog.ts';
import { GatewayBreakers, type GatewayBreakerOptions } from './gateway-breakers.ts';
import { GatewayUnavailableError } from './gateway-unavailable-error.ts';
import { incarnationOf, type GatewayRecord, type GatewayRegistry, type MeshSnapshot } from './registry.ts';

export interface MeshCatalogOptions {
  /** How old a mesh may be before it is fetched again (in the background). Default 5 min; mesh changes refetch at once. */
  ttlMs?: number;
  /** How long each daemon request of a fetch may take. Default 5 s. */
  timeoutMs?: number;
  /**
   * Gateways fetched at the same time; the others wait for a turn before their requests are sent
   * (and their timeouts start). Default 32.
   */
  concurrency?: number;
  /** Where meshes are kept between processes and restarts, and read when this catalogue knows none (or an older one). */
  registry?: Pick<GatewayRegistry, 'lastKnownMeshes' | 'saveMesh'>;
  /**
   * A gateway last heard (any answer, a heartbeat's included) longer ago than this, or never heard
   * since the catalogue started this long ago, is offline: its daemon is not asked. Default: never
   * (only failures count). Set it only where something keeps gateways heard (the collectors' heartbeat).
   */
  offlineAfterMs?: number;
  breaker?: GatewayBreakerOptions;
  logger?: Logger;
  now?: () => number;
}

/** How fresh what the catalogue says of a mesh is. */
export type MeshFreshness = 'LIVE' | 'LAST_KNOWN';

/** A mesh as the catalogue knows it: `LIVE` (an online gateway's, observed within `ttlMs`) or `LAST_KNOWN`. */
export interface ObservedMesh extends MeshSnapshot {
  freshness: MeshFreshness;
}

/** What the catalogue holds of one gateway. */
interface GatewayMesh {
  /** The newest snapshot known of the gateway's current registration. */
  known?: MeshSnapshot;
  /** When the registry was last asked for a newer one. */
  registryCheckedAt: number;
  /** The fetch running, if any (one at a time per gateway). */
  fetching?: Promise<MeshSnapshot>;
  /** Bumped when the mesh changed or the gateway went: a fetch started before keeps nothing. */
  generation: number;
  /** The mesh changed (bonding, discovery): the next read waits for a fetch. */
  changed: boolean;
}

/** How often the registry is asked for a mesh another process observed, per gateway. */
const REGISTRY_RECHECK_MS = 5_000;

/**
 * What each gateway's IQRF daemon says about its mesh (topology, bonded nodes, the sensors of
 * each node), fetched as one snapshot: enumerating a mesh costs radio time, and both the API and
 * the collector need it. Snapshots are kept in the registry (surviving restarts, shared by every
 * process) and refetched in the background once older than `ttlMs`: a read waits on a daemon only
 * when nothing is known of the gateway yet, or its mesh just changed.
 *
 * A gateway that is offline or failing costs its readers nothing: its daemon is not asked while the
 * heartbeat has not heard it (`offlineAfterMs`) or its circuit breaker is open after a failed fetch,
 * and its last known mesh is served, marked `LAST_KNOWN`. A node whose enumeration fails keeps the
 * sensors it had; only a fetch where every node failed counts as the gateway's failure.
 */
export class MeshCatalog {
  private readonly gateways = new Map<string, GatewayMesh>();
  private readonly breakers: GatewayBreakers;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly startedAt: number;
  private fetches = 0;
  private readonly turns: Array<() => void> = [];

  constructor(
    private readonly iqrf: IqrfClient,
    private readonly options: MeshCatalogOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 300_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.concurrency = options.concurrency ?? 32;
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.breakers = new GatewayBreakers({ ...options.breaker, now: this.now });
  }

  /**
   * The gateway's mesh: the newest known (refetched in the background when older than `ttlMs`),
   * fetched first when nothing is known, the mesh just changed, or `fresh` asks for it. Throws the
   * daemon's error (or `GatewayUnavailableError`) only when nothing is known.
   */
  async mesh(gateway: GatewayRecord, options: { fresh?: boolean } = {}): Promise<ObservedMesh> {
    const state = this.stateOf(gateway.id);
    const reachable = this.reachable(gateway.id);
    if (reachable && (state.changed || options.fresh)) {
      try {
        return this.observed(await this.fetch(gateway, state), true);
      } catch (error) {
        const known = await this.known(gateway, state);
        if (!known) throw error;
        return this.observed(known, false);
      }
    }
    const known = await this.known(gateway, state);
    if (!known) {
      if (!reachable) throw new GatewayUnavailableError(gateway.id, this.breakers.retryAt(gateway.id), this.iqrf.lastSeen(gateway.id));
      return this.observed(await this.fetch(gateway, state), true);
    }
    if (reachable && this.age(known) > this.ttlMs) void this.fetch(gateway, state).catch(() => undefined);
    return this.observed(known, reachable);
  }

  /** Every sensor of a gateway, node by node, with the registry's names and rooms. */
  async sensorsOf(gateway: GatewayRecord): Promise<SensorInfo[]> {
    return describeMeshSensors(gateway, await this.mesh(gateway));
  }

  /** The gateway's mesh changed (bonding, unbonding, discovery): the next read waits for a fetch. */
  invalidate(gatewayId: string): void {
    const state = this.stateOf(gatewayId);
    state.generation++;
    state.changed = true;
    state.fetching = undefined;
  }

  /** The gateway is gone (decommissioned): nothing of it is kept, and its id may come back as another gateway. */
  forget(gatewayId: string): void {
    const state = this.gateways.get(gatewayId);
    if (state) state.generation++;
    this.gateways.delete(gatewayId);
    this.breakers.forget(gatewayId);
  }

  /** Whether the gateway's daemon is asked at all now (heard lately, its breaker closed). */
  reachable(gatewayId: string): boolean {
    const { offlineAfterMs } = this.options;
    if (offlineAfterMs !== undefined && this.now() - (this.iqrf.lastSeen(gatewayId) ?? this.startedAt) > offlineAfterMs) return false;
    return this.breakers.allows(gatewayId, this.iqrf.lastSeen(gatewayId));
  }

  private stateOf(gatewayId: string): GatewayMesh {
    let state = this.gateways.get(gatewayId);
    if (!state) this.gateways.set(gatewayId, (state = { registryCheckedAt: -Infinity, generation: 0, changed: false }));
    return state;
  }

  private age(snapshot: MeshSnapshot): number {
    return this.now() - Date.parse(snapshot.observedAt);
  }

  private observed(snapshot: MeshSnapshot, reachable: boolean): ObservedMesh {
    return { ...snapshot, freshness: reachable && this.age(snapshot) <= this.ttlMs ? 'LIVE' : 'LAST_KNOWN' };
  }

  /** The newest snapshot of this registration: ours, or a newer one another process kept in the registry. */
  private async known(gateway: GatewayRecord, state: GatewayMesh): Promise<MeshSnapshot | undefined> {
    const incarnation = incarnationOf(gateway);
    let known = state.known?.incarnation === incarnation ? state.known : undefined;
    const { registry } = this.options;
    if (registry && (!known || this.age(known) > this.ttlMs) && this.now() - state.registryCheckedAt >= REGISTRY_RECHECK_MS) {
      state.registryCheckedAt = this.now();
      const [kept] = await registry.lastKnownMeshes([gateway.id]);
      if (kept?.incarnation === incarnation && (!known || kept.observedAt > known.observedAt)) known = state.known = kept;
    }
    return known;
  }

  /** Fetches the mesh (one fetch at a time per gateway), keeps it unless the mesh changed meanwhile. */
  private fetch(gateway: GatewayRecord, state: GatewayMesh): Promise<MeshSnapshot> {
    if (state.fetching) return state.fetching;
    const { generation } = state;
    const previous = state.known?.incarnation === incarnationOf(gateway) ? state.known : undefined;
    const started = this.now();
    const heardBefore = this.iqrf.lastSeen(gateway.id);
    const attempt = () => this.inTurn(() => this.ask(gateway, previous));
    const fetching = attempt()
      .catch((error: unknown) => {
        // A gateway silent until then that was heard meanwhile (its daemon just booted or came
        // back) had our requests go nowhere: it is asked once more before anyone is told it failed.
        const heard = this.iqrf.lastSeen(gateway.id);
        const cameUp = heard !== undefined && heard >= started && (heardBefore === undefined || started - heardBefore > this.timeoutMs);
        if (cameUp) return attempt();
        throw error;
      })
      .then(
        (snapshot) => {
          this.breakers.succeeded(gateway.id);
          if (state.generation === generation && this.gateways.get(gateway.id) === state) {
            state.known = snapshot;
            state.changed = false;
            this.options.registry
              ?.saveMesh(gateway.id, snapshot)
              .catch((error: Error) =>
                this.options.logger?.warn(
                  { gatewayId: gateway.id, err: error.message },
                  'cannot keep the mesh of a gateway in the registry',
                ),
              );
          }
          return snapshot;
        },
        (error: unknown) => {
          // Silent: nothing heard of it lately (never, or longer ago than a gateway stays online).
          const heard = this.iqrf.lastSeen(gateway.id);
          this.breakers.failed(gateway.id, heard === undefined || this.now() - heard > (this.options.offlineAfterMs ?? 2 * this.timeoutMs));
          throw error;
        },
      );
    state.fetching = fetching;
    void fetching.catch(() => undefined).finally(() => state.fetching === fetching && (state.fetching = undefined));
    return fetching;
  }

  // A city-wide read of a cold catalogue would otherwise send thousands of requests at once, and
  // time out those that wait behind the others in the broker and the daemons' queues.
  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.fetches >= this.concurrency) await new Promise<void>((resolve) => this.turns.push(resolve));
    else this.fetches++;
    try {
      return await work();
    } finally {
      // The turn passes straight to the next in line, or is given back.
      const next = this.turns.shift();
      if (next) next();
      else this.fetches--;
    }
  }

  private async ask(gateway: GatewayRecord, previous: MeshSnapshot | undefined): Promise<MeshSnapshot> {
    const gatewayId = gateway.id;
    const options = { timeoutMs: this.timeoutMs };
    const observedAt = new Date(this.now()).toISOString();
    const [topology, bonded] = await Promise.all([
      this.iqrf.request<{ devices: TopologyDevice[] }>(gatewayId, 'iqrfDb_GetNetworkTopology', {}, options).then((data) => {
        if (!Array.isArray(data.rsp?.devices))
          throw new Error(`gateway "${gatewayId}" answered iqrfDb_GetNetworkTopology without rsp.devices`);
        return data.rsp.devices;
      }),
      this.iqrf
        .request<{ result?: { bondedDevices?: number[] } }>(
          gatewayId,
          'iqrfEmbedCoordinator_BondedDevices',
          { nAdr: 0, param: {} },
          options,
        )
        .then((data) => {
          const addresses = data.rsp?.result?.bondedDevices;
          if (!Array.isArray(addresses))
            throw new Error(`gateway "${gatewayId}" answered iqrfEmbedCoordinator_BondedDevices without result.bondedDevices`);
          return addresses;
        }),
    ]);
    // Every node is waited for (none keeps the daemon busy after the fetch ended), and one that
    // does not answer (a flat battery) keeps the sensors it had.
    const enumerated = await Promise.allSettled(
      bonded.map(async (address) => {
        const data = await this.iqrf.request<{ result?: { sensors?: EnumeratedSensor[] } }>(
          gatewayId,
          'iqrfSensor_Enumerate',
          { nAdr: address, param: {} },
          options,
        );
        const sensors = data.rsp?.result?.sensors;
        if (!Array.isArray(sensors))
          throw new Error(`gateway "${gatewayId}" answered iqrfSensor_Enumerate for node ${address} without result.sensors`);
        return sensors;
      }),
    );
    const failed = enumerated.flatMap((result, i) =>
      result.status === 'rejected' ? [{ address: bonded[i]!, reason: result.reason as Error }] : [],
    );
    if (failed.length && failed.length === bonded.length) throw failed[0]!.reason;
    if (failed.length)
      this.options.logger?.warn(
        { gatewayId, nodes: failed.map((f) => f.address), err: failed[0]!.reason.message },
        'mesh nodes did not enumerate; their sensors are as last known',
      );
    const sensors: Record<number, EnumeratedSensor[]> = {};
    enumerated.forEach((result, i) => {
      const address = bonded[i]!;
      sensors[address] = result.status === 'fulfilled' ? result.value : (previous?.sensors[address] ?? []);
    });
    return { incarnation: incarnationOf(gateway), topology, bonded, sensors, observedAt };
  }
}
