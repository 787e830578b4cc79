/** Physical quantities the platform knows, keyed as in the public `Quantity` enum. */
export const Quantity = {
  TEMPERATURE: 'TEMPERATURE',
  HUMIDITY: 'HUMIDITY',
  CO2: 'CO2',
  VOC: 'VOC',
  VEHICLE_COUNT: 'VEHICLE_COUNT',
  PEDESTRIAN_COUNT: 'PEDESTRIAN_COUNT',
  PARKING_OCCUPANCY: 'PARKING_OCCUPANCY',
  BINARY: 'BINARY',
} as const;
export type Quantity = (typeof Quantity)[keyof typeof Quantity];

/**
 * IQRF Sensor standard types we read (the numeric `type` of the daemon's answers; never key on
 * the `id` string). Counters are 4-byte "binary data 30" sensors whose meaning (vehicles,
 * pedestrians, parked cars) is set per sensor in the gateway registry.
 */
export const SensorType = {
  TEMPERATURE: 1,
  CO2: 2,
  VOC: 3,
  HUMIDITY: 128,
  BINARYDATA7: 129,
  BINARYDATA30: 160,
} as const;

interface SensorTypeInfo {
  id: string;
  name: string;
  unit: string;
  /** The quantity when the registry says nothing more specific. */
  quantity: Quantity;
  /** FRC command that returns this type with the best resolution. */
  frcCommand: number;
  decimalPlaces: number;
}

/** FRC commands of the Sensor standard: how many bits each node returns. */
export const FrcCommand = { BITS2: 16, BYTE1: 144, BYTES2: 224, BYTES4: 249 } as const;

export const sensorTypes: ReadonlyMap<number, SensorTypeInfo> = new Map([
  [
    1,
    { id: 'TEMPERATURE', name: 'Temperature', unit: '°C', quantity: Quantity.TEMPERATURE, frcCommand: FrcCommand.BYTES2, decimalPlaces: 4 },
  ],
  [2, { id: 'CO2', name: 'Carbon dioxide', unit: 'ppm', quantity: Quantity.CO2, frcCommand: FrcCommand.BYTES2, decimalPlaces: 0 }],
  [
    3,
    { id: 'VOC', name: 'Volatile organic compound', unit: 'ppm', quantity: Quantity.VOC, frcCommand: FrcCommand.BYTES2, decimalPlaces: 0 },
  ],
  [
    128,
    { id: 'HUMIDITY', name: 'Relative humidity', unit: '%', quantity: Quantity.HUMIDITY, frcCommand: FrcCommand.BYTE1, decimalPlaces: 1 },
  ],
  [129, { id: 'BINARYDATA7', name: 'Binary data7', unit: '?', quantity: Quantity.BINARY, frcCommand: FrcCommand.BYTE1, decimalPlaces: 0 }],
  [
    160,
    { id: 'BINARYDATA30', name: 'Binary data30', unit: '?', quantity: Quantity.BINARY, frcCommand: FrcCommand.BYTES4, decimalPlaces: 0 },
  ],
]);

/** Units of the quantities as served by the API. */
export const quantityUnit: Record<Quantity, string> = {
  TEMPERATURE: '°C',
  HUMIDITY: '%',
  CO2: 'ppm',
  VOC: 'ppm',
  VEHICLE_COUNT: 'vehicles',
  PEDESTRIAN_COUNT: 'pedestrians',
  PARKING_OCCUPANCY: 'cars',
  BINARY: '',
};

export function isQuantity(value: unknown): value is Quantity {
  return typeof value === 'string' && value in Quantity;
}
