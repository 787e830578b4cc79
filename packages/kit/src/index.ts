export { startSubgraph, readBody, type SubgraphOptions, type SubgraphStartOptions, type RunningSubgraph } from './server.ts';
export { ErrorCode, userError, maskError } from './errors.ts';
export { DateTime, Duration, JSONScalar } from './scalars.ts';
export { parseDuration, parseInstant, isInstantInBounds, instantOutOfBounds, MIN_INSTANT_MS, MAX_INSTANT_MS, MIN_DURATION_SECONDS, MAX_DURATION_SECONDS } from './time.ts';
export { setLongTimeout, MAX_TIMER_DELAY_MS, type LongTimeout } from './long-timeout.ts';
export { loadTypeDefs } from './typedefs.ts';
export { envConfig, type EnvReader } from './config.ts';
export { runService, type Service } from './service.ts';
export { runMutation, fingerprintOf, type MutationRunner, type MutationUserError } from './run-mutation.ts';
