import { silentLogger } from '#log';
import { startPlatform, type Platform, type PlatformConfig } from '../../platform/platform.ts';

/** The whole platform on free ports, embedded broker, simulated city, fast polling, no logs. */
export function startTestPlatform(overrides: Partial<PlatformConfig> = {}): Promise<Platform> {
  return startPlatform({
    logger: silentLogger,
    scenario: 'demo',
    simulate: true,
    mqttPort: 0,
    routerPort: 0,
    subgraphPorts: { devices: 0, telemetry: 0, infrastructure: 0, opendata: 0 },
    pollIntervalMs: 300,
    iqrfTimeoutMs: 2_000,
    nodeReadyDelayMs: 100,
    exposeInternalErrors: true,
    ...overrides,
  });
}
