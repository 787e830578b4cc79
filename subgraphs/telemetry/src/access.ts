import { canSeeTenant, hasScope, requireScope, Scope, type Caller } from '#auth';
import { parseSensorId } from '#registry';
import type { Reading } from '#telemetry';
import type { TelemetryContext, TelemetrySources } from './context.ts';

/**
 * The telemetry subgraph's walls. A sensor's readings belong to its gateway's tenant: they need
 * `telemetry:read` and that tenant (every tenant for `admin`). Sensors the open data catalogue
 * publishes are the exception: every caller, anonymous ones included, reads them.
 */

/** Whether `sensorId` is published as open data (which every caller reads). */
export function isOpenSensor({ openSensorIds }: TelemetrySources, sensorId: string): boolean {
  return openSensorIds.has(sensorId);
}

/**
 * Whether the caller may read the sensor's readings: false for another tenant's sensor and for
 * one of no registered gateway alike (so that an answer never tells one from the other). Throws
 * UNAUTHENTICATED or FORBIDDEN when the caller lacks `telemetry:read` for a sensor that is not open.
 */
export async function canReadSensor({ caller, sources, loaders }: TelemetryContext, sensorId: string): Promise<boolean> {
  if (isOpenSensor(sources, sensorId)) return true;
  requireScope(caller, Scope.TELEMETRY_READ);
  const parsed = parseSensorId(sensorId);
  if (!parsed) return false;
  return canReadGateway({ caller, loaders }, parsed.gatewayId);
}

/** Whether the gateway is registered for a tenant the caller sees (needs `telemetry:read`, checked by the caller). */
export async function canReadGateway(
  { caller, loaders }: Pick<TelemetryContext, 'caller' | 'loaders'>,
  gatewayId: string,
): Promise<boolean> {
  const tenant = await loaders.gatewayTenant.load(gatewayId);
  return tenant !== null && canSeeTenant(caller, tenant);
}

/**
 * The wall on every live reading, whatever a subscription's filters said. A reading carries the
 * tenant that owned its gateway when it was taken, and that is what is checked, not who owns the
 * gateway id now: after a gateway id is decommissioned and registered again by another tenant,
 * the earlier owner's readings (still on the live bus, reachable with an `after` cursor) stay
 * that tenant's. An open sensor's readings are every caller's, but only those taken by the owner
 * of its gateway when the subscription started (`openOwner`), so that a re-registered id's open
 * series is its new owner's only. A subscription's filters were checked when it started; this is
 * the second wall, for a reading that a filter lets through by mistake.
 */
export function canReadReading(
  caller: Caller,
  sources: TelemetrySources,
  reading: Reading,
  openOwner: (gatewayId: string) => string | null | undefined,
): boolean {
  if (hasScope(caller, Scope.TELEMETRY_READ) && canSeeTenant(caller, reading.tenant)) return true;
  return isOpenSensor(sources, reading.sensorId) && reading.tenant === openOwner(reading.gatewayId);
}
