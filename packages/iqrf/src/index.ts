export * from './quantity.ts';
export * from './messages.ts';
export * from './topics.ts';
export {
  IqrfClient,
  IqrfTimeoutError,
  IqrfStatusError,
  IqrfUnavailableError,
  type IqrfClientOptions,
  type IqrfClientStats,
  type ResponseListener,
} from './client.ts';
export { MsgId, type FrcClaims, type MsgIdClaims, type MsgIdOptions, type MsgIdRejection, type MsgIdVerdict } from './msg-id.ts';
export { connectMqtt, createMqttClient, waitForConnection, type MqttOptions } from './mqtt.ts';
export { DEFAULT_HEARTBEAT_INTERVAL_MS, onlineWindowMs } from './liveness.ts';
