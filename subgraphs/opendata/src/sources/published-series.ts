import { isPublishedNow, publishedSensorIds, type OpenDataCatalog, type PublishedSensors } from '#opendata-catalog';
import { nodeTenant, parseSensorId, type GatewayRegistry } from '#registry';
import { readOwnedLatest, readOwnedSeries, type Point, type SeriesKey, type SeriesQuery, type TimeSeriesStore } from '#telemetry';

/**
 * The readings open data publishes: each published sensor's series under the tenant its node
 * belongs to now, and only while that tenant is the one the catalogue says publishes it ("open
 * data publishes only what its owner published": on a shared gateway, a node assigned to another
 * tenant publishes nothing). A gateway id decommissioned by one tenant and registered again by
 * another starts a new series, so a download, a SensorThings Observation or a car park's
 * occupancy never shows the earlier owner's readings under the new owner's name; a sensor whose
 * gateway nobody owns publishes nothing.
 */
export class PublishedSeries {
  private readonly published: PublishedSensors;

  constructor(
    private readonly store: TimeSeriesStore,
    private readonly registry: Pick<GatewayRegistry, 'getMany'>,
    catalog: OpenDataCatalog,
  ) {
    this.published = publishedSensorIds(catalog);
  }

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
    const gateways = new Map(gatewayIds.map((id, i) => [id, records[i]]));
    return sensorIds.map((sensorId) => {
      const parsed = parseSensorId(sensorId);
      const gateway = parsed && gateways.get(parsed.gatewayId);
      if (!gateway || !isPublishedNow(this.published, sensorId, gateway)) return undefined;
      return { sensorId, tenant: nodeTenant(gateway, parsed.address) };
    });
  }
}
