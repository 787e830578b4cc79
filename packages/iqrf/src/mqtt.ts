import mqtt, { type MqttClient } from 'mqtt';

export interface MqttOptions {
  clientId?: string;
  /** `false` asks the broker to keep the session (QoS 1 messages) across restarts of this process. */
  clean?: boolean;
  /** 4 (MQTT 3.1.1, what the embedded aedes broker speaks) or 5. Default 4. */
  protocolVersion?: 4 | 5;
}

/** Connects to an MQTT broker, reconnecting every second after a loss, and resolves once connected. */
export async function connectMqtt(url: string, options: MqttOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    protocolVersion: options.protocolVersion ?? 4,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    clean: options.clean ?? true,
    ...(options.clientId ? { clientId: options.clientId } : {}),
  });
}
