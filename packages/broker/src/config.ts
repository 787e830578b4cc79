import { readFileSync } from 'node:fs';
import { StartupError, type EnvReader } from '#kit';
import type { MqttCredentials } from './accounts.ts';

/** How a separately run service reaches the platform's broker (`MQTT_*`). */
export interface MqttSettings {
  url: string;
  protocolVersion: 4 | 5;
  /** This service's own account (`MQTT_USERNAME`, `MQTT_PASSWORD` or `MQTT_PASSWORD_FILE`). */
  credentials?: MqttCredentials;
  /** The accounts admin (`MQTT_ADMIN_USERNAME`, `MQTT_ADMIN_PASSWORD`), for the services that issue gateway credentials. */
  admin?: MqttCredentials;
  /** `MQTT_CA_FILE`: the CA of an `mqtts://` broker with a private certificate. */
  ca?: Buffer;
  /**
   * `MQTT_MSGID_SECRET`: what every collector and the devices subgraph sign and check request
   * msgIds with. Required in production (NODE_ENV=production): without the same secret, a
   * collector refuses the answers to other collectors' requests.
   */
  msgIdSecret?: string;
}

/** Reads the MQTT settings; a password comes from the variable or from the file it names. */
export function mqttSettingsFromEnv(env: EnvReader): MqttSettings {
  const pair = (user: string, password: string): MqttCredentials | undefined => {
    const username = env.optional(user);
    const file = env.optional(`${password}_FILE`);
    const secret = env.optional(password) ?? (file ? readFileSync(file, 'utf8').trim() : undefined);
    if (Boolean(username) !== Boolean(secret)) throw new StartupError(`Set both ${user} and ${password} (or ${password}_FILE), or neither`);
    return username && secret ? { username, password: secret } : undefined;
  };
  const caFile = env.optional('MQTT_CA_FILE');
  const msgIdSecret = env.optional('MQTT_MSGID_SECRET');
  if (env.optional('NODE_ENV') === 'production' && (!msgIdSecret || msgIdSecret.length < 32)) {
    throw new StartupError(
      'Set MQTT_MSGID_SECRET in production (at least 32 characters, the same in every collector and the devices subgraph), e.g. $(openssl rand -base64 32)',
    );
  }
  return {
    url: env.string('MQTT_URL', 'mqtt://127.0.0.1:1883'),
    protocolVersion: env.optional('MQTT_PROTOCOL_VERSION') === '4' ? 4 : 5,
    credentials: pair('MQTT_USERNAME', 'MQTT_PASSWORD'),
    admin: pair('MQTT_ADMIN_USERNAME', 'MQTT_ADMIN_PASSWORD'),
    ...(caFile ? { ca: readFileSync(caFile) } : {}),
    ...(msgIdSecret ? { msgIdSecret } : {}),
  };
}
