/** WGS84 degrees. */
export interface GeoPoint {
  lat: number;
  lon: number;
}

/** A dataset entry of the catalogue (DCAT-AP terms). */
export interface DatasetRecord {
  id: string;
  title: string;
  description: string;
  themes: string[];
  keywords: string[];
  license: { name: string; url: string };
  publisher: string;
  /** Relative to the public API URL, e.g. `/graphql`. */
  distributions: Array<{ title: string; format: string; mediaType: string; accessPath: string }>;
  modified: string;
  accrualPeriodicity?: string;
}

export interface IntersectionRecord {
  id: string;
  name: string;
  location: GeoPoint;
  vehicleSensorId: string;
  pedestrianSensorId: string;
}

export interface ParkingLotRecord {
  id: string;
  name: string;
  capacity: number;
  location: GeoPoint;
  sensorId: string;
}

/** What the open data subgraph publishes: its own catalogue, pointing at sensors of the platform. */
export interface OpenDataCatalog {
  /** Base URL that distributions' paths are relative to. */
  publicUrl: string;
  datasets: DatasetRecord[];
  intersections: IntersectionRecord[];
  parkingLots: ParkingLotRecord[];
}

/** Checks a catalogue loaded from JSON and says which entry is wrong. */
export function validateCatalog(value: unknown, source: string): OpenDataCatalog {
  const fail = (message: string): never => {
    throw new Error(`${source}: ${message}`);
  };
  if (typeof value !== 'object' || value === null) fail('not a JSON object');
  const catalog = value as Partial<OpenDataCatalog>;
  if (typeof catalog.publicUrl !== 'string') fail('"publicUrl" must be a string');
  for (const key of ['datasets', 'intersections', 'parkingLots'] as const) {
    if (!Array.isArray(catalog[key])) fail(`"${key}" must be an array`);
    catalog[key]!.forEach((entry, i) => {
      if (typeof entry?.id !== 'string' || !entry.id) fail(`${key}[${i}].id must be a non-empty string`);
    });
  }
  return catalog as OpenDataCatalog;
}
