import { setTimeout as sleep } from 'node:timers/promises';
import { MType, type IqrfClient } from '#iqrf';
import type { Logger } from '#log';
import type { GatewayRegistry } from '#registry';

export interface GatewayActivationOptions {
  registry: GatewayRegistry;
  iqrf: Pick<IqrfClient, 'request'>;
  /** Whether the gateway's Kubernetes node reports Ready. */
  nodeReady: (gatewayId: string) => Promise<boolean>;
  logger: Logger;
  /** How long a gateway is watched before it is left PROVISIONING. Default 15 min. */
  timeoutMs?: number;
  /** First and longest pause between two checks (the pause doubles). Default 200 ms and 5 s. */
  minPauseMs?: number;
  maxPauseMs?: number;
}

/**
 * Moves registered gateways from PROVISIONING to ONLINE in the registry once their Kubernetes
 * node is Ready and their IQRF daemon answers, checking both with a growing pause until then.
 */
export class GatewayActivation {
  private readonly abort = new AbortController();
  private readonly watching = new Map<string, Promise<boolean>>();

  constructor(private readonly options: GatewayActivationOptions) {}

  /** Watches the gateway (once, however often asked); true when it became ONLINE. */
  watch(gatewayId: string): Promise<boolean> {
    let watching = this.watching.get(gatewayId);
    if (!watching) {
      watching = this.activate(gatewayId).finally(() => this.watching.delete(gatewayId));
      this.watching.set(gatewayId, watching);
    }
    return watching;
  }

  /** Stops watching (the gateways stay PROVISIONING until watched again). */
  close(): void {
    this.abort.abort();
  }

  private async activate(gatewayId: string): Promise<boolean> {
    const { registry, iqrf, nodeReady, logger } = this.options;
    const deadline = Date.now() + (this.options.timeoutMs ?? 900_000);
    let pause = this.options.minPauseMs ?? 200;
    while (!this.abort.signal.aborted && Date.now() < deadline) {
      try {
        const [record] = await registry.getMany([gatewayId]);
        if (record?.status !== 'PROVISIONING') return record?.status === 'ONLINE';
        if (await nodeReady(gatewayId)) {
          await iqrf.request(gatewayId, MType.BONDED_DEVICES, { nAdr: 0, param: {} }, { timeoutMs: 2_000 });
          const updated = await registry.update(gatewayId, (g) => (g.status === 'PROVISIONING' ? { ...g, status: 'ONLINE' } : g));
          logger.info({ gatewayId, status: updated?.status }, 'gateway activated');
          return updated?.status === 'ONLINE';
        }
      } catch (error) {
        // Not there yet: the daemon boots after the node, and the systems may blink meanwhile.
        logger.debug({ gatewayId, err: error instanceof Error ? error.message : String(error) }, 'gateway not active yet');
      }
      await sleep(pause, undefined, { signal: this.abort.signal }).catch(() => undefined);
      pause = Math.min(pause * 2, this.options.maxPauseMs ?? 5_000);
    }
    if (!this.abort.signal.aborted) logger.warn({ gatewayId }, 'gateway did not become active in time; it stays PROVISIONING');
    return false;
  }
}
