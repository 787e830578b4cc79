import type { ActuatorKind } from './actuators.ts';

/** How a command ended (the public `ActuatorCommandOutcome`). */
export type ActuatorCommandOutcome = 'PENDING' | 'CONFIRMED' | 'UNCONFIRMED' | 'FAILED' | 'REFUSED';

/** Whether a state is the daemon's word (the public `ActuatorStateStatus`). */
export type ActuatorStateStatus = 'CONFIRMED' | 'UNCONFIRMED' | 'UNKNOWN';

/** An actuator's state: `on` for a binary output, `level` for a light. */
export interface ActuatorStateRecord {
  on?: boolean;
  level?: number;
  status: ActuatorStateStatus;
  /** ISO-8601: when the daemon reported it. */
  confirmedAt?: string;
}

/** One command to one actuator, as the audit trail keeps it (the latest word on it). */
export interface ActuatorCommandRecord {
  id: string;
  actuatorId: string;
  gatewayId: string;
  /** The actuator's tenant when it was commanded: whose audit trail it is in. */
  tenant: string;
  kind: ActuatorKind;
  /** A token's `sub`, or `apiKey:<id>`. */
  requestedBy: string;
  /** ISO-8601. */
  requestedAt: string;
  on?: boolean;
  level?: number;
  durationSeconds?: number;
  outcome: ActuatorCommandOutcome;
  /** The state before, from the daemon's answer (`prevVals`); only when CONFIRMED. */
  previous?: ActuatorStateRecord;
  /** ISO-8601. */
  finishedAt?: string;
  /** A public `UserErrorCode` when REFUSED or FAILED. */
  errorCode?: string;
  error?: string;
  groupId?: string;
}

export type ActuatorEventKind = 'COMMANDED' | 'CONFIRMED' | 'UNCONFIRMED' | 'FAILED' | 'REFUSED' | 'STATE_CHANGED';

/** One thing that happened to an actuator. */
export interface ActuatorEventRecord {
  kind: ActuatorEventKind;
  /** ISO-8601. */
  time: string;
  actuatorId: string;
  gatewayId: string;
  /** The actuator's tenant when it happened: only its callers (and grantees of the actuator) see it. */
  tenant: string;
  /** Absent for STATE_CHANGED. */
  command?: ActuatorCommandRecord;
  state?: ActuatorStateRecord;
}

/** An event with where it stands in the stream (an opaque, ordered position). */
export interface ActuatorLogEntry {
  position: string;
  event: ActuatorEventRecord;
}
