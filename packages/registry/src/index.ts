export {
  incarnationOf,
  parseMeshSnapshot,
  nodeTenant,
  gatewayTenants,
  type GatewayRecord,
  type GatewayRegistry,
  type MeshSnapshot,
  type NodeMeta,
  type CpuArch,
  type GatewayStatus,
} from './registry.ts';
export { FileGatewayRegistry, meshFileOf } from './file-registry.ts';
export {
  actuatorId,
  actuatorKey,
  parseActuatorId,
  describeActuator,
  describeActuators,
  describeMeshActuators,
  type ActuatorInfo,
  type ActuatorKind,
} from './actuators.ts';
export { describeSensors, describeMeshSensors, sensorId, parseSensorId, type SensorInfo } from './catalog.ts';
export { RedisGatewayRegistry, type RedisGatewayRegistryOptions } from './redis-registry.ts';
export {
  MemoryIdempotencyStore,
  RedisIdempotencyStore,
  type IdempotencyStore,
  type IdempotencyClaim,
  type IdempotencyState,
  type IdempotencyStoreOptions,
} from './idempotency-store.ts';
export { openGatewayRegistry, openIdempotencyStore, registryOptionsFromEnv, type RegistryOptions } from './backends.ts';
export { openActuatorLog } from './backends.ts';
export { openActuatorGrants } from './backends.ts';
export type {
  ActuatorCommandOutcome,
  ActuatorStateStatus,
  ActuatorStateRecord,
  ActuatorCommandRecord,
  ActuatorEventKind,
  ActuatorEventRecord,
  ActuatorLogEntry,
} from './actuator-log.ts';
export type { Grantee, ActuatorSelection, ActuatorGrantRecord } from './actuator-grants.ts';
export {
  FileActuatorGrantStore,
  RedisActuatorGrantStore,
  grantCovers,
  grantsFileOf,
  selectionMatches,
  type ActuatorGrantStore,
  type NewActuatorGrant,
  type RedisActuatorGrantStoreOptions,
} from './actuator-grants.ts';
export {
  MemoryActuatorLog,
  compareLogPositions,
  isLogPosition,
  type ActuatorLog,
  type ActuatorLogListener,
  type ActuatorLogOptions,
  type AuditPage,
} from './actuator-log.ts';
export { FileActuatorLog, actuatorLogFileOf, type FileActuatorLogOptions } from './file-actuator-log.ts';
export { RedisActuatorLog, type RedisActuatorLogOptions } from './redis-actuator-log.ts';
