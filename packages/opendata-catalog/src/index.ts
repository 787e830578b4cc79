/**
 * The open data catalogue: its types and validator, the sensors it publishes, and its loader.
 * The opendata subgraph publishes it, devices and telemetry open its sensors to every caller,
 * and the simulator builds its scenarios' catalogues in it.
 */
export {
  datasetContent,
  publishedSensorIds,
  validateCatalog,
  type DatasetContent,
  type DatasetRecord,
  type GeoPoint,
  type IntersectionRecord,
  type OpenDataCatalog,
  type ParkingLotRecord,
  type SeriesRecord,
} from './catalog.ts';
export { foreignPublishedSensors, isPublishedNow, PublishedSensors } from './published-sensors.ts';
export { catalogScenarios, loadOpenDataCatalog, openDataCatalogFromEnv, scenarioCatalogFile, type OpenDataCatalogOptions } from './load.ts';
