export type {
  DatasetRecord as DatasetModel,
  IntersectionRecord as IntersectionModel,
  ParkingLotRecord as ParkingLotModel,
} from '#opendata-catalog';
