import {
  isInvalidEntry,
  isObject,
  MType,
  validateResponse,
  type DaemonResponse,
  type FrcClaims,
  type IqrfClient,
  type MeshCatalog,
} from '#iqrf';
import { describeMeshSensors, type GatewayRegistry, type SensorInfo } from '#registry';
import type { Reading } from '#telemetry';
import type { RejectedAnswers } from './stats.ts';

export interface FrcDecoderOptions {
  iqrf: Pick<IqrfClient, 'msgIds' | 'requestTimeoutMs'>;
  catalog: Pick<MeshCatalog, 'mesh'>;
  registry: Pick<GatewayRegistry, 'getMany'>;
  /** Time between two polls of a gateway. */
  intervalMs: number;
  /** How long after its request an FRC answer is still accepted, in ms. */
  answerWindowMs: number;
}

/** Why an answer is dropped whole. */
export interface Rejection {
  reason: keyof RejectedAnswers;
  detail: string;
}

/** What an answer's msgId says: what was asked and when, or why it is refused. */
export type FrcVerdict = { ok: true; asked: FrcClaims; issuedAt: number } | ({ ok: false } & Rejection);

/** What became of an FRC answer whose msgId was verified. */
export type DecodedFrc =
  /** Its readings, and how many entries were `null` or not sensor values. */
  | { kind: 'readings'; readings: Reading[]; nulls: number; invalid: number }
  | ({ kind: 'rejected' } & Rejection)
  /** Not an FRC answer (`error` says what is wrong), or one from a gateway not registered. */
  | { kind: 'invalid'; error: string }
  | { kind: 'unregistered' }
  /** An error status: its requester reports it. */
  | { kind: 'failed' };

/** The nodes of an FRC sent to every node: its answer is indexed by address. */
const ALL_ADDRESSES = Array.from({ length: 240 }, (_, address) => address);

/**
 * Turns `iqrfSensor_Frc` answers into readings, from what their msgId says was asked: entry i is
 * the value of the i-th node asked (of node i when every node was). The answer's shape is the IQRF
 * API map's (`validateResponse`); an answer is refused whole when its msgId is not the platform's
 * for this gateway or too old, when it has more entries than nodes asked, another sensor type or
 * index, or a value of a node that has no such sensor.
 */
export class FrcDecoder {
  constructor(private readonly options: FrcDecoderOptions) {}

  /** Only answers to requests the platform sent to this gateway, and recently: the msgId says so. */
  verify(gatewayId: string, msgId: string): FrcVerdict {
    const verdict = this.options.iqrf.msgIds.verify(gatewayId, MType.SENSOR_FRC, msgId, Date.now(), this.options.answerWindowMs);
    if (!verdict.ok) return { ok: false, reason: verdict.reason, detail: verdict.detail };
    if (!verdict.claims.frc) return { ok: false, reason: 'unsolicited', detail: 'msgId carries no FRC claims' };
    return { ok: true, asked: verdict.claims.frc, issuedAt: verdict.claims.issuedAt };
  }

  /**
   * When the gateway answered: the answer's arrival here, but not before its request (another
   * collector's clock) and not after the request plus an answer slot. An answer held by the
   * broker or a backlog (a restart, an outage) arrives late and all at once; the slot keeps it
   * near when it was given, and the readings of two polls of a gateway at least a second apart:
   * polls are `intervalMs / 2` apart at least (the lease), the slot is a second less than that.
   */
  readingTime(issuedAt: number, arrivedAt: number): number {
    const slot = Math.max(0, Math.min(this.options.iqrf.requestTimeoutMs, this.options.intervalMs / 2 - 1_000));
    return Math.min(Math.max(arrivedAt, issuedAt), issuedAt + slot);
  }

  /** The readings of a verified answer (`verify`), stamped `time`, or why there are none. */
  async decode(gatewayId: string, response: DaemonResponse, asked: FrcClaims, time: number): Promise<DecodedFrc> {
    if (response.data.status !== 0) return { kind: 'failed' };
    const nodes = asked.nodes ?? ALL_ADDRESSES;
    // Counted before any entry is checked: checking the 127 000 entries of a 256 KiB answer takes
    // 60-110 ms, and a forged answer can be sent again for as long as its msgId is accepted.
    const count = entryCount(response.data.rsp);
    if (count > nodes.length) return rejected('oversized', `${count} entries for ${nodes.length} nodes asked`);
    const validated = validateResponse(MType.SENSOR_FRC, response.data.rsp);
    if (!validated.ok) return { kind: 'invalid', error: validated.error };
    const { sensors: entries, sensorIndex } = validated.value.result;
    if (sensorIndex !== asked.sensorIndex) return rejected('mismatched', `sensor index ${sensorIndex}, ${asked.sensorIndex} asked`);
    const [gateway] = await this.options.registry.getMany([gatewayId]);
    if (!gateway) return { kind: 'unregistered' };
    const sensors = new Map<number, SensorInfo>();
    for (const sensor of describeMeshSensors(gateway, await this.options.catalog.mesh(gateway))) {
      if (sensor.type === asked.sensorType && sensor.typeIndex === asked.sensorIndex) sensors.set(sensor.address, sensor);
    }
    const readings: Reading[] = [];
    let invalid = 0;
    let nulls = 0;
    for (const [i, entry] of entries.entries()) {
      if (entry !== null && isInvalidEntry(entry)) {
        invalid++;
        continue;
      }
      if (entry === null || entry.value === null) {
        nulls++;
        continue;
      }
      const address = nodes[i]!;
      if (entry.type !== asked.sensorType)
        return rejected('mismatched', `sensor type ${entry.type} of node ${address}, ${asked.sensorType} asked`);
      const sensor = sensors.get(address);
      if (!sensor)
        return rejected('mismatched', `node ${address} has no sensor of type ${asked.sensorType} and index ${asked.sensorIndex}`);
      readings.push({
        sensorId: sensor.id,
        gatewayId,
        // The node's tenant: on a shared gateway each node's readings are its tenant's series.
        tenant: sensor.tenant,
        quantity: sensor.quantity,
        ...(sensor.room ? { room: sensor.room } : {}),
        time,
        value: entry.value,
        answerId: response.data.msgId,
      });
    }
    return { kind: 'readings', readings, nulls, invalid };
  }
}

/** How many entries an answer's `rsp.result.sensors` has, none of them read (0 when it is not an array). */
function entryCount(rsp: unknown): number {
  const result = isObject(rsp) ? rsp.result : undefined;
  return isObject(result) && Array.isArray(result.sensors) ? result.sensors.length : 0;
}

function rejected(reason: keyof RejectedAnswers, detail: string): DecodedFrc {
  return { kind: 'rejected', reason, detail };
}
