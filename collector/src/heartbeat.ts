import { DEFAULT_HEARTBEAT_INTERVAL_MS, IqrfUnavailableError, MType, type IqrfClient } from '#iqrf';
import type { Logger } from '#log';
import type { GatewayRegistry } from '#registry';
import type { CollectorMembership } from './membership.ts';

export interface GatewayHeartbeatOptions {
  iqrf: Pick<IqrfClient, 'request' | 'lastSeen' | 'connected'>;
  registry: Pick<GatewayRegistry, 'list'>;
  /** With several collectors: each asks the gateways it owns. */
  membership?: Pick<CollectorMembership, 'owns'>;
  logger: Logger;
  /** Time between two beats. Default 10 s. */
  intervalMs?: number;
  /** How long a beat waits for its answer. Default 3 s. */
  timeoutMs?: number;
}

/**
 * The liveness of gateways, independent of sensor polling: every `intervalMs`, each gateway this
 * collector owns that was not heard from meanwhile is asked `mngDaemon_Version`
 * (the daemon answers it itself, without radio time). Every process reading the response topics
 * (the devices subgraph among them) sees the answer, which is what a gateway's `lastSeen` and
 * status come from: a gateway without sensors stays ONLINE while its daemon answers, and one that
 * stops is OFFLINE once the online window (three beats and a timeout) has passed. A gateway that
 * stops or starts answering is logged once, when it does.
 */
export class GatewayHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<string>();
  private readonly silent = new Set<string>();
  /** Silent gateways whose silence was logged (once, until they answer). */
  private readonly reported = new Set<string>();
  private brokerAway = false;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: GatewayHeartbeatOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? 3_000;
  }

  /** Beats now, then every `intervalMs`, until `stop`. */
  start(): void {
    this.stop();
    const tick = () => this.beat().catch((error: Error) => this.options.logger.warn({ err: error.message }, 'heartbeat failed'));
    this.timer = setInterval(tick, this.intervalMs);
    void tick();
  }

  /** Stops beating; beats in flight are abandoned (they time out unheeded), not waited for. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether the gateway's daemon failed its last beat (an answer to anything since clears it at the next beat). */
  isSilent(gatewayId: string): boolean {
    return this.silent.has(gatewayId);
  }

  /**
   * Asks every gateway owned that was not heard from during the last half interval (so that each
   * is asked, or heard, once an interval) and has no beat in flight: a daemon that does not answer
   * holds up nobody's beat but its own. With the broker away nothing is asked, and nobody is
   * blamed for it.
   */
  async beat(): Promise<void> {
    const { iqrf, membership, logger } = this.options;
    if (!iqrf.connected) {
      if (!this.brokerAway) logger.warn('heartbeat paused: the MQTT broker is not connected');
      this.brokerAway = true;
      return;
    }
    if (this.brokerAway) logger.info('heartbeat resumed: the MQTT broker is back');
    this.brokerAway = false;
    const gateways = (await this.options.registry.list()).filter(
      (g) => g.status !== 'DECOMMISSIONED' && (!membership || membership.owns(g.id)),
    );
    const now = Date.now();
    for (const gateway of gateways) {
      const heard = iqrf.lastSeen(gateway.id);
      if (heard !== undefined && now - heard < this.intervalMs / 2) {
        this.answered(gateway.id);
        continue;
      }
      if (this.inFlight.has(gateway.id)) continue;
      this.inFlight.add(gateway.id);
      iqrf
        .request(gateway.id, MType.DAEMON_VERSION, undefined, { timeoutMs: this.timeoutMs })
        .then(
          () => this.answered(gateway.id),
          (error: Error) => {
            // Stopped meanwhile, or the broker went away: the gateway's silence is not its own.
            if (this.timer === undefined || error instanceof IqrfUnavailableError) return;
            this.silent.add(gateway.id);
            // A gateway still PROVISIONING has no daemon yet: its silence is news to nobody.
            if (gateway.status !== 'PROVISIONING' && !this.reported.has(gateway.id)) {
              this.reported.add(gateway.id);
              logger.warn({ gatewayId: gateway.id, err: error.message }, 'gateway stopped answering');
            }
          },
        )
        .finally(() => this.inFlight.delete(gateway.id));
    }
  }

  private answered(gatewayId: string): void {
    this.silent.delete(gatewayId);
    if (this.reported.delete(gatewayId)) this.options.logger.info({ gatewayId }, 'gateway answers again');
  }
}
