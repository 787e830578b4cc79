import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from '#log';

const DEFAULT_PREFIX = 'iot/collectors';

/**
 * Which collector polls which gateway, when several run: each announces itself with a retained
 * message on `<prefix>/<id>` (cleared by its last will when it vanishes), and a gateway belongs to
 * the live collector with the highest rendezvous hash of (collector, gateway). When one leaves,
 * only its gateways move; when it comes back, they move back.
 */
export class CollectorMembership {
  private readonly members = new Set<string>();
  private readonly prefix: string;
  private readonly onMessage = (topic: string, payload: Buffer) => {
    if (!topic.startsWith(`${this.prefix}/`)) return;
    const id = topic.slice(this.prefix.length + 1);
    if (payload.length === 0) {
      if (id !== this.id && this.members.delete(id)) this.logger.info({ collector: id, members: this.size }, 'collector left');
    } else if (!this.members.has(id)) {
      this.members.add(id);
      this.logger.info({ collector: id, members: this.size }, 'collector joined');
    }
  };

  constructor(
    private readonly mqtt: MqttClient,
    readonly id: string,
    private readonly logger: Logger,
    prefix = DEFAULT_PREFIX,
  ) {
    this.prefix = prefix;
    this.members.add(id);
  }

  /** The will to connect with, so that the broker clears this collector's presence if it dies. */
  static will(id: string, prefix = DEFAULT_PREFIX): NonNullable<IClientOptions['will']> {
    return { topic: `${prefix}/${id}`, payload: Buffer.alloc(0), qos: 1, retain: true };
  }

  get size(): number {
    return this.members.size;
  }

  async start(): Promise<void> {
    this.mqtt.on('message', this.onMessage);
    this.mqtt.on('connect', this.announce);
    await this.announce();
  }

  // Also after every reconnection: the broker may have restarted without our presence or subscription.
  private readonly announce = async (): Promise<void> => {
    try {
      await this.mqtt.subscribeAsync(`${this.prefix}/+`, { qos: 1 });
      await this.mqtt.publishAsync(`${this.prefix}/${this.id}`, JSON.stringify({ id: this.id, since: new Date().toISOString() }), {
        qos: 1,
        retain: true,
      });
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'cannot announce this collector');
    }
  };

  /** Leaves the group: the others take this collector's gateways over. */
  async stop(): Promise<void> {
    this.mqtt.off('message', this.onMessage);
    this.mqtt.off('connect', this.announce);
    if (this.mqtt.connected) await this.mqtt.publishAsync(`${this.prefix}/${this.id}`, Buffer.alloc(0), { qos: 1, retain: true });
  }

  /** Whether this collector polls the gateway. */
  owns(gatewayId: string): boolean {
    let best = '';
    let bestScore = -1;
    for (const member of this.members) {
      const score = fnv1a(`${member}|${gatewayId}`);
      if (score > bestScore || (score === bestScore && member < best)) {
        best = member;
        bestScore = score;
      }
    }
    return best === this.id;
  }
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // One more mixing round: FNV alone clusters on strings that differ only at the end.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  return hash >>> 0;
}
