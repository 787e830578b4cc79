import type { ServiceToReach } from '#kit';

/** The MQTT broker of MQTT_URL, as a service to reach at start. */
export function mqttService(url: string): ServiceToReach {
  return {
    variable: 'MQTT_URL',
    what: 'the MQTT broker',
    url,
    defaultPorts: { 'mqtt:': 1883, 'mqtts:': 8883, 'tcp:': 1883, 'ssl:': 8883, 'ws:': 80, 'wss:': 443 },
  };
}
