import { parseSensorId, type GatewayRegistry } from '#registry';
import { readOwnedLatest, readOwnedSeries, type Point, type SeriesKey, type SeriesQuery, type TimeSeriesStore } from '#telemetry';

/**
 * The readings open data publishes: each published sensor's series under the tenant that owns
 * its gateway now. A gateway id decommissioned by one tenant and registered again by another
 * starts a new series, so a download, a SensorThings Observation or a car park's occupancy never
 * shows the earlier owner's readings under the new owner's name; a sensor whose gateway nobody
 * owns publishes nothing.
 */
export class PublishedSeries {
  constructor(
    private readonly store: TimeSeriesStore,
    private readonly registry: Pick<GatewayRegistry, 'getMany'>,
  ) {}

  /** One series per sensor id, in order; empty for a sensor whose gateway is not registered. */
  async query(sensorIds: readonly string[], range: Omit<SeriesQuery, 'series'>): Promise<Point[][]> {
    return readOwnedSeries(this.store, await this.keys(sensorIds), range);
  }

  /** The latest point of each sensor, in order. */
  async latest(sensorIds: readonly string[]): Promise<Array<Point | undefined>> {
    return readOwnedLatest(this.store, await this.keys(sensorIds));
  }

  private async keys(sensorIds: readonly string[]): Promise<Array<SeriesKey | undefined>> {
    const gatewayIds = [...new Set(sensorIds.flatMap((id) => parseSensorId(id)?.gatewayId ?? []))];
    const records = gatewayIds.length ? await this.registry.getMany(gatewayIds) : [];
    const owners = new Map(gatewayIds.map((id, i) => [id, records[i]?.tenant]));
    return sensorIds.map((sensorId) => {
      const tenant = owners.get(parseSensorId(sensorId)?.gatewayId ?? '');
      return tenant ? { sensorId, tenant } : undefined;
    });
  }
}
