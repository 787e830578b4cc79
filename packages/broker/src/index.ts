export {
  aclOf,
  COLLECTOR_GROUP,
  collectorPresence,
  gatewayUsername,
  mayPublish,
  maySubscribe,
  topicMatches,
  type AclRule,
  type MqttAccount,
  type MqttRole,
} from './acl.ts';
export { newPassword, passwordHash, passwordMatches, type BrokerAccounts, type MqttCredentials } from './accounts.ts';
export { DynsecAccounts, dynsecConfig, roleOf } from './dynsec.ts';
export { MAX_PACKET_BYTES, startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded.ts';
export { PacketSizeGuard } from './packet-size-guard.ts';
export { GatewayCredentials, type CredentialsListener, type GatewayMqttCredentials } from './gateway-credentials.ts';
export { mqttSettingsFromEnv, type MqttSettings } from './config.ts';
export { mqttService } from './mqtt-service.ts';
