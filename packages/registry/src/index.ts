export {
  incarnationOf,
  parseMeshSnapshot,
  type GatewayRecord,
  type GatewayRegistry,
  type MeshSnapshot,
  type NodeMeta,
  type CpuArch,
  type GatewayStatus,
} from './registry.ts';
export { FileGatewayRegistry, meshFileOf } from './file-registry.ts';
export { describeSensors, describeMeshSensors, sensorId, parseSensorId, type SensorInfo } from './catalog.ts';
export { MeshCatalog, type MeshCatalogOptions, type MeshFreshness, type ObservedMesh } from './mesh-catalog.ts';
export { GatewayBreakers, type GatewayBreakerOptions } from './gateway-breakers.ts';
export { GatewayUnavailableError } from './gateway-unavailable-error.ts';
export { RedisGatewayRegistry, type RedisGatewayRegistryOptions } from './redis-registry.ts';
export {
  MemoryIdempotencyStore,
  RedisIdempotencyStore,
  type IdempotencyStore,
  type IdempotencyClaim,
  type IdempotencyState,
  type IdempotencyStoreOptions,
} from './idempotency-store.ts';
