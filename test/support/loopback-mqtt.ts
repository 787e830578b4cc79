import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';

/**
 * An in-process stand-in for a broker, for unit tests that need none: each `client()` gets what
 * the others publish on the filters it subscribed (`+` and `#` wildcards), on a later turn, as
 * the IQRF client and the daemon simulator use it (`on`/`off`, `subscribeAsync`,
 * `unsubscribeAsync`, `publish`, `publishAsync`, `connected`). QoS and sessions are not modelled.
 */
export class LoopbackMqtt {
  private readonly clients = new Set<LoopbackClient>();

  /** A connected client of this loopback, typed as the `MqttClient` its users expect. */
  client(): MqttClient {
    const client = new LoopbackClient(this);
    this.clients.add(client);
    return client as unknown as MqttClient;
  }

  /** Delivers a message to every client subscribed to its topic. */
  deliver(topic: string, payload: string | Buffer): void {
    const buffer = typeof payload === 'string' ? Buffer.from(payload) : payload;
    setImmediate(() => {
      for (const client of this.clients)
        if ([...client.filters].some((filter) => matches(filter, topic))) client.emit('message', topic, buffer, { properties: {} });
    });
  }
}

class LoopbackClient extends EventEmitter {
  readonly filters = new Set<string>();
  connected = true;

  constructor(private readonly loopback: LoopbackMqtt) {
    super();
  }

  async subscribeAsync(filter: string): Promise<void> {
    this.filters.add(filter);
  }

  async unsubscribeAsync(filter: string): Promise<void> {
    this.filters.delete(filter);
  }

  publish(topic: string, payload: string | Buffer, _options?: unknown, callback?: (error?: Error) => void): this {
    this.loopback.deliver(topic, payload);
    callback?.();
    return this;
  }

  async publishAsync(topic: string, payload: string | Buffer): Promise<void> {
    this.loopback.deliver(topic, payload);
  }
}

function matches(filter: string, topic: string): boolean {
  const wanted = filter.split('/');
  const levels = topic.split('/');
  for (const [i, level] of wanted.entries()) {
    if (level === '#') return true;
    if (i >= levels.length || (level !== '+' && level !== levels[i])) return false;
  }
  return wanted.length === levels.length;
}
