/** FRC answers dropped whole, by reason. */
export interface RejectedAnswers {
  /** The msgId is not one the platform issued for this gateway and `iqrfSensor_Frc`. */
  unsolicited: number;
  /** Its request is older than `answerWindowMs`. */
  expired: number;
  /** Already turned into readings (by this collector or another one sharing the ledger). */
  replayed: number;
  /** A sensor type or index other than asked, or a value of a node that has no such sensor. */
  mismatched: number;
  /** More entries than nodes asked, or a payload over the IQRF client's byte limit. */
  oversized: number;
}

/** What the collector's poller, decoder and deliverer count, in one object they share. */
export interface CollectorCounters {
  /** Poll rounds started. */
  rounds: number;
  /** FRC requests sent. */
  polls: number;
  /** Gateways not polled in a round: silent to the heartbeat, offline, or their breaker open. */
  skippedGateways: number;
  /** Gateways not polled in a round because another collector holds their lease. */
  fencedGateways: number;
  /**
   * Readings accepted: published on the live bus (with `storeFedFromBus`, which is durable and
   * feeds the store; otherwise also written to the store).
   */
  readings: number;
  /**
   * Answers to this collector's own requests that it turned into readings itself because no
   * collector of the shared subscription had done so (their copy went to a dead session).
   */
  recoveredAnswers: number;
  /** Entries the daemon gave as `null` (the node gave nothing). */
  skippedNulls: number;
  /** Entries that were not a sensor value of a known sensor. */
  invalidEntries: number;
  /** Requests that failed (timeout, error status, broker down). */
  failedRequests: number;
  /** Store or bus calls that failed and were retried. */
  deliveryRetries: number;
}

export interface CollectorStats extends CollectorCounters {
  /** Payloads on response topics that were not daemon responses at all. */
  malformedPayloads: number;
  /** FRC answers dropped whole: nothing of them reached the store or the bus. */
  rejectedAnswers: RejectedAnswers;
}

/** Counters at zero. */
export function newCounters(): CollectorCounters {
  return {
    rounds: 0,
    polls: 0,
    skippedGateways: 0,
    fencedGateways: 0,
    readings: 0,
    recoveredAnswers: 0,
    skippedNulls: 0,
    invalidEntries: 0,
    failedRequests: 0,
    deliveryRetries: 0,
  };
}
