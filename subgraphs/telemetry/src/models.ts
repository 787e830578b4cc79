/** A sensor as telemetry knows it: only its key; everything else comes from devices. */
export interface SensorRef {
  id: string;
}

export interface ReadingModel {
  sensorId: string;
  /** ms since the epoch */
  time: number;
  value: number;
  /** Live readings only. */
  cursor?: string;
}
