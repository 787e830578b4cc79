export type {
  DatasetRecord as DatasetModel,
  IntersectionRecord as IntersectionModel,
  ParkingLotRecord as ParkingLotModel,
} from './sources/catalog.ts';
