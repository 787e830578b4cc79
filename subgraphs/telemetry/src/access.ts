import { canSeeTenant, hasScope, requireScope, Scope, type Caller } from '#auth';
import { isPublishedNow } from '#opendata-catalog';
import { gatewayTenants, nodeTenant, parseSensorId, type GatewayRecord } from '#registry';
import type { Reading } from '#telemetry';
import type { TelemetryContext, TelemetrySources } from './context.ts';

/**
 * The telemetry subgraph's walls. A sensor's readings belong to its node's tenant (its gateway's
 * owner unless an operator assigned the node to another tenant: a shared gateway): they need
 * `telemetry:read` and that tenant (every tenant for `admin`). Sensors the open data catalogue
 * publishes are the exception while their node is their publisher's: every caller, anonymous
 * ones included, reads them.
 */

/**
 * The tenant whose readings of `sensorId` are open to every caller: its node's tenant, when the
 * catalogue publishes the sensor and that tenant is its publisher (`isPublishedNow`); else null.
 */
export function openTenant(
  { openSensorIds }: TelemetrySources,
  sensorId: string,
  gateway: GatewayRecord | null | undefined,
): string | null {
  const parsed = parseSensorId(sensorId);
  if (!gateway || !parsed || !isPublishedNow(openSensorIds, sensorId, gateway)) return null;
  return nodeTenant(gateway, parsed.address);
}

/**
 * Whether the caller may read the sensor's readings: false for another tenant's sensor (on a
 * gateway it shares with that tenant too) and for one of no registered gateway alike (so that an
 * answer never tells one from the other). Throws UNAUTHENTICATED or FORBIDDEN when the caller
 * lacks `telemetry:read` for a sensor that is not open.
 */
export async function canReadSensor({ caller, sources, loaders }: TelemetryContext, sensorId: string): Promise<boolean> {
  const parsed = parseSensorId(sensorId);
  const gateway = parsed ? await loaders.gateway.load(parsed.gatewayId) : null;
  if (openTenant(sources, sensorId, gateway)) return true;
  requireScope(caller, Scope.TELEMETRY_READ);
  return !!parsed && !!gateway && canSeeTenant(caller, nodeTenant(gateway, parsed.address));
}

/**
 * Whether the gateway is registered and the caller's tenant owns it or has nodes on it (needs
 * `telemetry:read`, checked by the caller): what it then reads of it is its own nodes' only.
 */
export async function canReadGateway(
  { caller, loaders }: Pick<TelemetryContext, 'caller' | 'loaders'>,
  gatewayId: string,
): Promise<boolean> {
  const gateway = await loaders.gateway.load(gatewayId);
  return gateway !== null && gatewayTenants(gateway).some((tenant) => canSeeTenant(caller, tenant));
}

/**
 * The wall on every live reading, whatever a subscription's filters said. A reading carries the
 * tenant its node belonged to when it was taken (the collector stamps its node's tenant), and
 * that is what is checked, not who owns the gateway id or the node now: after a gateway id is
 * registered again by another tenant, or a node assigned to another, the earlier tenant's
 * readings (still on the live bus, reachable with an `after` cursor) stay that tenant's, and on a
 * shared gateway each tenant gets its own nodes' readings only. An open sensor's readings are
 * every caller's, but only those of the tenant that published it when the subscription started
 * (`openTenantOf`). A subscription's filters were checked when it started; this is the second
 * wall, for a reading that a filter lets through by mistake.
 */
export function canReadReading(
  caller: Caller,
  reading: Reading,
  openTenantOf: (sensorId: string, gatewayId: string) => string | null | undefined,
): boolean {
  if (hasScope(caller, Scope.TELEMETRY_READ) && canSeeTenant(caller, reading.tenant)) return true;
  const open = openTenantOf(reading.sensorId, reading.gatewayId);
  return !!open && reading.tenant === open;
}
