import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface MqttOptions {
  clientId?: string;
  /**
   * `false` keeps the session (subscriptions and queued QoS 1 messages) on the broker while this
   * client is away, so a restart loses nothing sent to it meanwhile. Needs a stable `clientId`.
   */
  clean?: boolean;
  /** How long the broker keeps a persistent session (MQTT 5). Default 1 day. */
  sessionExpirySeconds?: number;
  /** 4 (MQTT 3.1.1, what the embedded aedes broker speaks) or 5. Default 4. */
  protocolVersion?: 4 | 5;
  /** Published by the broker when this client disappears without saying goodbye. */
  will?: IClientOptions['will'];
}

/** Connects to an MQTT broker, reconnecting every second after a loss, and resolves once connected. */
export async function connectMqtt(url: string, options: MqttOptions = {}): Promise<MqttClient> {
  const protocolVersion = options.protocolVersion ?? 4;
  const clean = options.clean ?? true;
  return mqtt.connectAsync(url, {
    protocolVersion,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    clean,
    // Resubscribing after a reconnect is needed only when the broker forgot the session.
    resubscribe: true,
    ...(options.clientId ? { clientId: options.clientId } : {}),
    ...(options.will ? { will: options.will } : {}),
    ...(protocolVersion === 5 && !clean ? { properties: { sessionExpiryInterval: options.sessionExpirySeconds ?? 86_400 } } : {}),
  });
}
