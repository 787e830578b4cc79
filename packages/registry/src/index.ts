export type { GatewayRecord, GatewayRegistry, NodeMeta, CpuArch, GatewayStatus } from './registry.ts';
export { FileGatewayRegistry } from './file-registry.ts';
export { MeshCatalog, describeSensors, sensorId, parseSensorId, type SensorInfo, type MeshCatalogOptions } from './catalog.ts';
export { RedisGatewayRegistry, type RedisGatewayRegistryOptions } from './redis-registry.ts';
export { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore, type IdempotencyClaim, type IdempotencyState, type IdempotencyStoreOptions } from './idempotency-store.ts';
