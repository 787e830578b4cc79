import mqtt, { type MqttClient } from 'mqtt';

/**
 * Connects to an MQTT broker (MQTT 5, reconnecting every second) and resolves once connected.
 * With a `clientId` and `clean: false` the broker keeps the session (QoS 1 messages) across
 * restarts of this process.
 */
export async function connectMqtt(url: string, options: { clientId?: string; clean?: boolean } = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    protocolVersion: 5,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    clean: options.clean ?? true,
    ...(options.clientId ? { clientId: options.clientId } : {}),
  });
}
