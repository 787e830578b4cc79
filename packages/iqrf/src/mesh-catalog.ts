import type { Logger } from '#log';
import { MType } from './api.ts';
import { IqrfStatusError, type IqrfClient } from './client.ts';
import { GatewayBreakers, type GatewayBreakerOptions } from './gateway-breakers.ts';
import { GatewayUnavailableError } from './gateway-unavailable-error.ts';
import { incarnationOf, type MeshGateway, type MeshSnapshot, type MeshStore, type NodeActuators } from './mesh-snapshot.ts';
import type { EnumeratedSensor } from './messages.ts';
import { RefreshingMap } from './refreshing-map.ts';
import { Turns } from './turns.ts';

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
  registry?: MeshStore;
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

/** How often the registry is asked for a mesh another process observed, per gateway. */
const REGISTRY_RECHECK_MS = 5_000;

/**
 * What each gateway's IQRF daemon says about its mesh (topology, bonded nodes, the sensors and actuators of
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
  /**
   * The newest snapshot known of each gateway, one fetch at a time; a gateway whose mesh changed
   * (bonding, discovery) is stale: its next read waits for a fetch.
   */
  private readonly meshes = new RefreshingMap<string, MeshSnapshot>();
  /** When the registry was last asked for a newer snapshot of each gateway. */
  private readonly registryCheckedAt = new Map<string, number>();
  private readonly breakers: GatewayBreakers;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly startedAt: number;
  /** Daemon fetches under way at once (`concurrency`). */
  private readonly turns: Turns;

  constructor(
    private readonly iqrf: Pick<IqrfClient, 'request' | 'lastSeen'>,
    private readonly options: MeshCatalogOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 300_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.turns = new Turns(options.concurrency ?? 32);
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.breakers = new GatewayBreakers({ ...options.breaker, now: this.now });
  }

  /**
   * The gateway's mesh: the newest known (refetched in the background when older than `ttlMs`),
   * fetched first when nothing is known, the mesh just changed, or `fresh` asks for it. Throws the
   * daemon's error (or `GatewayUnavailableError`) only when nothing is known.
   */
  async mesh(gateway: MeshGateway, options: { fresh?: boolean } = {}): Promise<ObservedMesh> {
    const reachable = this.reachable(gateway.id);
    if (reachable && (this.meshes.isStale(gateway.id) || options.fresh)) {
      try {
        return this.observed(await this.fetch(gateway), true);
      } catch (error) {
        const known = await this.known(gateway);
        if (!known) throw error;
        return this.observed(known, false);
      }
    }
    const known = await this.known(gateway);
    if (!known) {
      if (!reachable) throw new GatewayUnavailableError(gateway.id, this.breakers.retryAt(gateway.id), this.iqrf.lastSeen(gateway.id));
      return this.observed(await this.fetch(gateway), true);
    }
    if (reachable && this.age(known) > this.ttlMs) void this.fetch(gateway).catch(() => undefined);
    return this.observed(known, reachable);
  }

  /** The gateway's mesh changed (bonding, unbonding, discovery): the next read waits for a fetch. */
  invalidate(gatewayId: string): void {
    this.meshes.invalidate(gatewayId);
  }

  /** The gateway is gone (decommissioned): nothing of it is kept, and its id may come back as another gateway. */
  forget(gatewayId: string): void {
    this.meshes.delete(gatewayId);
    this.registryCheckedAt.delete(gatewayId);
    this.breakers.forget(gatewayId);
  }

  /** Whether the gateway's daemon is asked at all now (heard lately, its breaker closed). */
  reachable(gatewayId: string): boolean {
    const { offlineAfterMs } = this.options;
    if (offlineAfterMs !== undefined && this.now() - (this.iqrf.lastSeen(gatewayId) ?? this.startedAt) > offlineAfterMs) return false;
    return this.breakers.allows(gatewayId, this.iqrf.lastSeen(gatewayId));
  }

  private age(snapshot: MeshSnapshot): number {
    return this.now() - Date.parse(snapshot.observedAt);
  }

  private observed(snapshot: MeshSnapshot, reachable: boolean): ObservedMesh {
    return { ...snapshot, freshness: reachable && this.age(snapshot) <= this.ttlMs ? 'LIVE' : 'LAST_KNOWN' };
  }

  /** The newest snapshot of this registration: ours, or a newer one another process kept in the registry. */
  private async known(gateway: MeshGateway): Promise<MeshSnapshot | undefined> {
    const known = this.ours(gateway);
    const { registry } = this.options;
    const checkedAt = this.registryCheckedAt.get(gateway.id) ?? -Infinity;
    if (!registry || (known && this.age(known) <= this.ttlMs) || this.now() - checkedAt < REGISTRY_RECHECK_MS) return known;
    this.registryCheckedAt.set(gateway.id, this.now());
    const [kept] = await registry.lastKnownMeshes([gateway.id]);
    if (kept?.incarnation !== incarnationOf(gateway) || (known && kept.observedAt <= known.observedAt)) return known;
    this.meshes.set(gateway.id, kept);
    return kept;
  }

  /** The snapshot this catalogue holds of the gateway's current registration. */
  private ours(gateway: MeshGateway): MeshSnapshot | undefined {
    const snapshot = this.meshes.get(gateway.id);
    return snapshot?.incarnation === incarnationOf(gateway) ? snapshot : undefined;
  }

  /** Fetches the mesh (one fetch at a time per gateway), keeps it unless the mesh changed meanwhile. */
  private fetch(gateway: MeshGateway): Promise<MeshSnapshot> {
    return this.meshes.refresh(
      gateway.id,
      () => this.fetchNow(gateway),
      (snapshot) =>
        this.options.registry
          ?.saveMesh(gateway.id, snapshot)
          .catch((error: Error) =>
            this.options.logger?.warn({ gatewayId: gateway.id, err: error.message }, 'cannot keep the mesh of a gateway in the registry'),
          ),
    );
  }

  /** Asks the daemon (once more if it just came up), and tells the gateway's breaker how it went. */
  private fetchNow(gateway: MeshGateway): Promise<MeshSnapshot> {
    const previous = this.ours(gateway);
    const started = this.now();
    const heardBefore = this.iqrf.lastSeen(gateway.id);
    const attempt = () => this.turns.run(() => this.ask(gateway, previous));
    return attempt()
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
          return snapshot;
        },
        (error: unknown) => {
          // Silent: nothing heard of it lately (never, or longer ago than a gateway stays online).
          const heard = this.iqrf.lastSeen(gateway.id);
          this.breakers.failed(gateway.id, heard === undefined || this.now() - heard > (this.options.offlineAfterMs ?? 2 * this.timeoutMs));
          throw error;
        },
      );
  }

  private async ask(gateway: MeshGateway, previous: MeshSnapshot | undefined): Promise<MeshSnapshot> {
    const gatewayId = gateway.id;
    const options = { timeoutMs: this.timeoutMs };
    const observedAt = new Date(this.now()).toISOString();
    const [topology, bonded] = await Promise.all([
      this.iqrf.request(gatewayId, MType.NETWORK_TOPOLOGY, {}, options).then((data) => data.rsp.devices),
      this.iqrf.request(gatewayId, MType.BONDED_DEVICES, { nAdr: 0, param: {} }, options).then((data) => data.rsp.result.bondedDevices),
    ]);
    // Every node is waited for (none keeps the daemon busy after the fetch ended), and one that
    // does not answer (a flat battery) keeps the sensors and actuators it had. A node's three
    // enumerations go out together: one round trip per node, nodes in parallel.
    const enumerated = await Promise.all(
      bonded.map((address) => {
        const node = { nAdr: address, param: {} };
        return Promise.all([
          settle(this.iqrf.request(gatewayId, MType.SENSOR_ENUMERATE, node, options).then((data) => data.rsp.result.sensors)),
          settle(peripheralCount(this.iqrf.request(gatewayId, MType.BINARY_OUTPUT_ENUMERATE, node, options), (r) => r.binOuts)),
          settle(peripheralCount(this.iqrf.request(gatewayId, MType.LIGHT_ENUMERATE, node, options), (r) => r.lights)),
        ]);
      }),
    );
    const failed = enumerated.flatMap(([result], i) =>
      result.status === 'rejected' ? [{ address: bonded[i]!, reason: result.reason as Error }] : [],
    );
    if (failed.length && failed.length === bonded.length) throw failed[0]!.reason;
    if (failed.length)
      this.options.logger?.warn(
        { gatewayId, nodes: failed.map((f) => f.address), err: failed[0]!.reason.message },
        'mesh nodes did not enumerate; their sensors are as last known',
      );
    const sensors: Record<number, EnumeratedSensor[]> = {};
    const actuators: Record<number, NodeActuators> = {};
    enumerated.forEach(([sensorResult, outputs, lights], i) => {
      const address = bonded[i]!;
      sensors[address] = sensorResult.status === 'fulfilled' ? sensorResult.value : (previous?.sensors[address] ?? []);
      const known = previous?.actuators?.[address];
      if (outputs.status === 'fulfilled' && lights.status === 'fulfilled')
        actuators[address] = { binaryOutputs: outputs.value, lights: lights.value };
      else if (known || outputs.status === 'fulfilled' || lights.status === 'fulfilled')
        // One of the two failed: what is known of it stays (nothing known counts none for now).
        actuators[address] = {
          binaryOutputs: outputs.status === 'fulfilled' ? outputs.value : (known?.binaryOutputs ?? 0),
          lights: lights.status === 'fulfilled' ? lights.value : (known?.lights ?? 0),
        };
    });
    return { incarnation: incarnationOf(gateway), topology, bonded, sensors, actuators, observedAt };
  }
}

/** DPA's status for a request to a peripheral the node does not implement. */
const ERROR_PNUM = 3;

/** How many outputs or lights a node's peripheral has: 0 when the node refuses it as not implemented (ERROR_PNUM). */
function peripheralCount<R>(answer: Promise<{ rsp: { result: R } }>, count: (result: R) => number): Promise<number> {
  return answer.then(
    (data) => count(data.rsp.result),
    (error: unknown) => {
      if (error instanceof IqrfStatusError && error.status === ERROR_PNUM) return 0;
      throw error;
    },
  );
}

/** `Promise.allSettled` of one promise. */
function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}
