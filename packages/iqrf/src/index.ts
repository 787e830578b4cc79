export * from './quantity.ts';
export * from './messages.ts';
export * from './topics.ts';
export {
  MESSAGE_ERROR,
  MType,
  isActuatorTime,
  isInvalidEntry,
  isMType,
  responseValidators,
  validateResponse,
  type AutoNetworkRequest,
  type BinaryOutputCommand,
  type BondNodeLocalResponse,
  type DaliAnswer,
  type DpaResponse,
  type FrcEntry,
  type FrcResult,
  type InvalidSensorEntry,
  type IqrfApi,
  type LightCommand,
  type LightPowerResult,
  type NodeRequest,
  type RequestOf,
  type ResponseOf,
  type ResponseValidator,
} from './api.ts';
export {
  IqrfClient,
  IqrfTimeoutError,
  IqrfStatusError,
  IqrfResponseError,
  IqrfUnavailableError,
  type DaemonAnswer,
  type IqrfClientOptions,
  type IqrfClientStats,
  type ResponseListener,
  type SharedSubscription,
} from './client.ts';
export { MsgId, type FrcClaims, type MsgIdClaims, type MsgIdOptions, type MsgIdRejection, type MsgIdVerdict } from './msg-id.ts';
export { connectMqtt, createMqttClient, waitForConnection, type MqttOptions } from './mqtt.ts';
export { DEFAULT_HEARTBEAT_INTERVAL_MS, onlineWindowMs } from './liveness.ts';
export { incarnationOf, type MeshGateway, type MeshSnapshot, type MeshStore, type NodeActuators } from './mesh-snapshot.ts';
export { MeshCatalog, type MeshCatalogOptions, type MeshFreshness, type ObservedMesh } from './mesh-catalog.ts';
export { GatewayBreakers, type GatewayBreakerOptions } from './gateway-breakers.ts';
export { GatewayUnavailableError } from './gateway-unavailable-error.ts';
export { Turns } from './turns.ts';
