import { Quantity } from '#iqrf';

/**
 * Plausible values for a sensor at an instant: CO2 and temperature follow room occupancy over
 * the day, traffic has morning and afternoon rush hours, car parks fill during working hours.
 * `noise` is a uniform random number in [0, 1) from the scenario's seeded generator.
 * `ventilation` is the share of the room's CO2 excess (above outdoor air) its ventilation left
 * (1, the default: not aired).
 */
export function signalValue(
  quantity: Quantity,
  time: Date,
  noise: number,
  options: { intervalSeconds: number; capacity?: number; ventilation?: number },
): number {
  const hour = time.getUTCHours() + time.getUTCMinutes() / 60;
  const jitter = noise - 0.5;
  switch (quantity) {
    case Quantity.TEMPERATURE:
      return quantize(20.5 + 1.5 * Math.sin(((hour - 9) / 24) * 2 * Math.PI) + 1.8 * occupancy(hour) + jitter * 0.4, 1 / 16);
    case Quantity.HUMIDITY:
      return quantize(38 + 6 * Math.cos((hour / 24) * 2 * Math.PI) + 8 * occupancy(hour) + jitter * 2, 0.5);
    case Quantity.CO2:
      return Math.round(420 + 950 * occupancy(hour) * (options.ventilation ?? 1) + jitter * 40);
    case Quantity.VOC:
      return Math.round(80 + 200 * occupancy(hour) + jitter * 20);
    case Quantity.VEHICLE_COUNT:
      return poisson(trafficRate(hour, 0.35) * options.intervalSeconds, noise);
    case Quantity.PEDESTRIAN_COUNT:
      return poisson(trafficRate(hour, 0.12) * options.intervalSeconds, noise);
    case Quantity.PARKING_OCCUPANCY: {
      const capacity = options.capacity ?? 100;
      return Math.max(0, Math.min(capacity, Math.round(capacity * (0.15 + 0.75 * occupancy(hour)) + jitter * 6)));
    }
    case Quantity.BINARY:
      return Math.round(noise * 255);
  }
}

/** Share of people in an office or school, by UTC hour: arrivals at 8, a lunch dip, gone by 18. */
export function occupancy(hour: number): number {
  if (hour < 7 || hour >= 19) return 0;
  const arriving = sigmoid((hour - 8) * 3);
  const leaving = 1 - sigmoid((hour - 17) * 3);
  const lunch = 1 - 0.35 * Math.exp(-((hour - 12.5) ** 2) / 0.3);
  return arriving * leaving * lunch;
}

/** Vehicles (or pedestrians, with a smaller peak) per second at a crossing: rush hours at 7:30 and 16:30. */
export function trafficRate(hour: number, peakPerSecond: number): number {
  const rush = (center: number) => Math.exp(-((hour - center) ** 2) / 0.8);
  const day = hour >= 6 && hour < 22 ? 0.25 : 0.03;
  return peakPerSecond * Math.min(1, day + rush(7.5) + 0.9 * rush(16.5));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function quantize(value: number, step: number): number {
  return Math.round(value / step) * step;
}

// A deterministic draw from a Poisson-like count: the mean, rounded after a bounded jitter.
function poisson(mean: number, noise: number): number {
  return Math.max(0, Math.round(mean + (noise - 0.5) * 2 * Math.sqrt(mean)));
}
