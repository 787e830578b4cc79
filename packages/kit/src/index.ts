export { startSubgraph, readBody, type SubgraphOptions, type SubgraphStartOptions, type RunningSubgraph } from './server.ts';
export { ErrorCode, userError, maskError } from './errors.ts';
export { DateTime, Duration, JSONScalar } from './scalars.ts';
export { parseDuration, parseInstant } from './time.ts';
export { loadTypeDefs } from './typedefs.ts';
export { envConfig, type EnvReader } from './config.ts';
export { runService, type Service } from './service.ts';
export { runMutation, fingerprintOf, type MutationRunner, type MutationUserError } from './run-mutation.ts';
