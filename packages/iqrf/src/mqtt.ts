import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface MqttOptions {
  /** The client id; with `credentials`, their username (a broker of the platform binds the two). */
  clientId?: string;
  /** Username and password: every client of the platform's broker authenticates. */
  credentials?: { username: string; password: string };
  /** CA certificate(s) to trust for `mqtts://` (a private CA); the system's when absent. */
  ca?: string | Buffer;
  /**
   * Largest packet this client accepts (MQTT 5 tells the broker, which then drops larger ones for
   * it). Default 256 KiB, above any daemon answer (a 239-node FRC or topology is a few KiB).
   */
  maximumPacketSize?: number;
  /**
   * `false` keeps the session (subscriptions and queued QoS 1 messages) on the broker while this
   * client is away, so a restart loses nothing sent to it meanwhile. Needs a stable `clientId`.
   */
  clean?: boolean;
  /** How long the broker keeps the session of a client that vanished (MQTT 5). Default 1 h. */
  sessionExpirySeconds?: number;
  /** 4 (MQTT 3.1.1, what the embedded aedes broker speaks) or 5. Default 4. */
  protocolVersion?: 4 | 5;
  /** Published by the broker when this client disappears without saying goodbye. */
  will?: IClientOptions['will'];
}

/** Connects to an MQTT broker, reconnecting every second after a loss, and resolves once connected. */
export async function connectMqtt(url: string, options: MqttOptions = {}): Promise<MqttClient> {
  const client = createMqttClient(url, options);
  await waitForConnection(client);
  return client;
}

/**
 * Starts connecting and returns the client at once, so that message handlers can be attached
 * before the broker replays a persistent session (those messages come right after CONNACK).
 */
export function createMqttClient(url: string, options: MqttOptions = {}): MqttClient {
  const protocolVersion = options.protocolVersion ?? 4;
  const clean = options.clean ?? true;
  const credentials = options.credentials;
  const clientId = options.clientId ?? credentials?.username;
  return mqtt.connect(url, {
    protocolVersion,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    clean,
    // Resubscribing after a reconnect is needed only when the broker forgot the session.
    resubscribe: true,
    ...(clientId ? { clientId } : {}),
    ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.will ? { will: options.will } : {}),
    ...(protocolVersion === 5
      ? {
          properties: {
            maximumPacketSize: options.maximumPacketSize ?? 256 * 1024,
            ...(!clean ? { sessionExpiryInterval: options.sessionExpirySeconds ?? 3_600 } : {}),
          },
        }
      : {}),
  });
}

/** Resolves on the first connection; rejects on a connection error or after `timeoutMs`. */
export function waitForConnection(client: MqttClient, timeoutMs = 10_000): Promise<void> {
  if (client.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`MQTT broker did not accept the connection within ${timeoutMs} ms`)), timeoutMs);
    const onConnect = () => finish();
    const onError = (error: Error) => finish(error);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      if (error) {
        client.end(true);
        reject(error);
      } else resolve();
    };
    client.on('connect', onConnect);
    client.on('error', onError);
  });
}
