import { randomUUID } from 'node:crypto';
import { IqrfResponseError, IqrfStatusError, IqrfTimeoutError, IqrfUnavailableError, MType } from '#iqrf';
import type { ActuatorCommandRecord, ActuatorEventRecord, ActuatorInfo, ActuatorKind, ActuatorStateRecord } from '#registry';
import type { UserErrorCode } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { commandRefusal, commandSubject } from './actuator-access.ts';

/** What a command asks: `on` of a binary output, or `level` of a light; `durationSeconds` as the IQRF standards' `time`. */
export interface ActuatorOrder {
  on?: boolean;
  level?: number;
  durationSeconds?: number;
}

/** The kind of actuator an order is for. */
export function orderKind(order: ActuatorOrder): ActuatorKind {
  return order.level !== undefined ? 'LIGHT' : 'BINARY_OUTPUT';
}

/** Node requests of one gateway under way at once in a group command: a mesh carries one radio frame at a time anyway. */
const NODES_PER_GATEWAY = 4;

/** DPA's status for a node that did not answer over the radio: the command may or may not have been carried out. */
const DPA_TIMEOUT = -1;

/**
 * Commands actuators (already found visible to the caller), each audited and streamed:
 * 1. refused, before anything is sent, without a right (FORBIDDEN), of another kind than the
 *    order (BAD_USER_INPUT), or over the actuator's rate limit (RATE_LIMITED): a REFUSED event;
 * 2. otherwise COMMANDED, then one daemon request per node (all its actuators of the order in it),
 *    nodes in parallel with `NODES_PER_GATEWAY` per gateway, each waiting `actuatorCommandTimeoutMs`;
 * 3. CONFIRMED with the state before it from the answer (`prevVals`), UNCONFIRMED when no answer came
 *    (the state keeps the last confirmed values, marked UNCONFIRMED), or FAILED (the daemon refused,
 *    the gateway is not asked now).
 * Gives one record per actuator, in order; the state each ends with is primed in the request's loader.
 */
export async function commandActuators(
  ctx: DevicesContext,
  actuators: readonly ActuatorInfo[],
  order: ActuatorOrder,
  groupId?: string,
): Promise<ActuatorCommandRecord[]> {
  const kind = orderKind(order);
  const requestedAt = new Date().toISOString();
  const records = actuators.map((actuator): ActuatorCommandRecord => ({
    id: `cmd-${randomUUID()}`,
    actuatorId: actuator.id,
    gatewayId: actuator.gatewayId,
    tenant: actuator.tenant,
    kind: actuator.kind,
    requestedBy: commandSubject(ctx.caller),
    requestedAt,
    ...(order.on !== undefined ? { on: order.on } : {}),
    ...(order.level !== undefined ? { level: order.level } : {}),
    ...(order.durationSeconds !== undefined ? { durationSeconds: order.durationSeconds } : {}),
    outcome: 'PENDING',
    ...(groupId ? { groupId } : {}),
  }));
  const accepted: Array<{ actuator: ActuatorInfo; record: ActuatorCommandRecord }> = [];
  for (const [i, actuator] of actuators.entries()) {
    const refusal = await refusalOf(ctx, actuator, kind);
    const record = records[i]!;
    if (refusal) {
      records[i] = await finish(ctx, actuator, { ...record, outcome: 'REFUSED', errorCode: refusal.code, error: refusal.message });
      continue;
    }
    await ctx.sources.actuatorLog.append(eventOf('COMMANDED', actuator, record));
    accepted.push({ actuator, record });
  }
  const finished = await sendPerNode(ctx, accepted, order);
  for (const [i, record] of records.entries()) records[i] = finished.get(record.id) ?? record;
  return records;
}

interface Refusal {
  code: UserErrorCode;
  message: string;
}

async function refusalOf(ctx: DevicesContext, actuator: ActuatorInfo, kind: ActuatorKind): Promise<Refusal | undefined> {
  const forbidden = await commandRefusal(ctx, actuator);
  if (forbidden) return forbidden;
  if (actuator.kind !== kind)
    return {
      code: 'BAD_USER_INPUT',
      message: `Actuator "${actuator.id}" is a ${actuator.kind}: ${kind === 'LIGHT' ? 'a level is for lights' : 'on/off is for binary outputs'}`,
    };
  const retryAfterMs = await ctx.services.actuatorRateLimit.take(actuator.id);
  if (retryAfterMs !== undefined)
    return {
      code: 'RATE_LIMITED',
      message: `Actuator "${actuator.id}" was commanded too often; retry in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`,
    };
  return undefined;
}

/** Sends the accepted commands, one request per node, and records how each ended. */
async function sendPerNode(
  ctx: DevicesContext,
  accepted: ReadonlyArray<{ actuator: ActuatorInfo; record: ActuatorCommandRecord }>,
  order: ActuatorOrder,
): Promise<Map<string, ActuatorCommandRecord>> {
  const nodes = new Map<string, Array<{ actuator: ActuatorInfo; record: ActuatorCommandRecord }>>();
  for (const item of accepted) {
    const key = `${item.actuator.gatewayId}:${item.actuator.address}`;
    nodes.set(key, [...(nodes.get(key) ?? []), item]);
  }
  const turns = new Map<string, Turns>();
  const finished = new Map<string, ActuatorCommandRecord>();
  await Promise.all(
    [...nodes.values()].map(async (items) => {
      const gatewayId = items[0]!.actuator.gatewayId;
      let gatewayTurns = turns.get(gatewayId);
      if (!gatewayTurns) turns.set(gatewayId, (gatewayTurns = new Turns(NODES_PER_GATEWAY)));
      const outcome = await gatewayTurns.run(() => sendToNode(ctx, items, order));
      for (const { actuator, record } of items) {
        const done = await finish(ctx, actuator, { ...record, ...outcome.of(actuator) }, outcome.stateOf(actuator));
        finished.set(record.id, done);
      }
    }),
  );
  return finished;
}

/** How a node's request ended, per actuator of it. */
interface NodeOutcome {
  of(actuator: ActuatorInfo): Partial<ActuatorCommandRecord>;
  stateOf(actuator: ActuatorInfo): ActuatorStateRecord | undefined;
}

async function sendToNode(
  ctx: DevicesContext,
  items: ReadonlyArray<{ actuator: ActuatorInfo; record: ActuatorCommandRecord }>,
  order: ActuatorOrder,
): Promise<NodeOutcome> {
  const { sources } = ctx;
  const { gatewayId, address } = items[0]!.actuator;
  const time = order.durationSeconds !== undefined ? { time: order.durationSeconds } : {};
  const failed = (errorCode: UserErrorCode, error: string): NodeOutcome => ({
    of: () => ({ outcome: 'FAILED', errorCode, error, finishedAt: new Date().toISOString() }),
    stateOf: () => undefined,
  });
  if (!sources.catalog.reachable(gatewayId))
    return failed('GATEWAY_UNAVAILABLE', `The IQRF daemon of gateway "${gatewayId}" is not answering lately; it was not sent the command`);
  const options = { timeoutMs: sources.actuatorCommandTimeoutMs };
  const indexes = items.map(({ actuator }) => actuator.index).sort((a, b) => a - b);
  let previous: Map<number, ActuatorStateRecord>;
  try {
    if (order.level === undefined) {
      const binOuts = indexes.map((index) => ({ index, state: order.on ?? false, ...(order.on ? time : {}) }));
      const answer = await sources.iqrf.request(gatewayId, MType.BINARY_OUTPUT_SET, { nAdr: address, param: { binOuts } }, options);
      const at = new Date().toISOString();
      const { prevVals } = answer.rsp.result;
      // A value the answer lacks is not known: no previous state rather than a made-up one.
      previous = new Map(
        indexes.flatMap((index) =>
          prevVals[index] === undefined ? [] : [[index, { on: prevVals[index], status: 'CONFIRMED', confirmedAt: at }] as const],
        ),
      );
    } else {
      const lights = indexes.map((index) => ({ index, power: order.level!, ...time }));
      const answer = await sources.iqrf.request(gatewayId, MType.LIGHT_SET_POWER, { nAdr: address, param: { lights } }, options);
      const at = new Date().toISOString();
      const { prevVals } = answer.rsp.result;
      // The answer names the lights of the request in ascending index; one it lacks has no previous state.
      previous = new Map(
        indexes.flatMap((index, i) =>
          prevVals[i] === undefined ? [] : [[index, { level: prevVals[i], status: 'CONFIRMED', confirmedAt: at }] as const],
        ),
      );
    }
  } catch (error) {
    if (isUnanswered(error)) return unconfirmed(ctx, items);
    if (error instanceof IqrfUnavailableError) return failed('GATEWAY_UNAVAILABLE', error.message);
    if (error instanceof IqrfStatusError) return failed('GATEWAY_ERROR', error.message);
    ctx.services.logger.error({ gatewayId, address, err: error }, 'actuator command failed unexpectedly');
    return failed('GATEWAY_ERROR', `The command to node ${address} of gateway "${gatewayId}" failed`);
  }
  const finishedAt = new Date().toISOString();
  return {
    of: (actuator) => {
      const before = previous.get(actuator.index);
      return { outcome: 'CONFIRMED', ...(before ? { previous: before } : {}), finishedAt };
    },
    stateOf: () =>
      order.level === undefined
        ? { on: order.on ?? false, status: 'CONFIRMED', confirmedAt: finishedAt }
        : { level: order.level, status: 'CONFIRMED', confirmedAt: finishedAt },
  };
}

/** No answer in time, the node's DPA timeout, or an answer that cannot be read: it may or may not have been carried out. */
function isUnanswered(error: unknown): boolean {
  return (
    error instanceof IqrfTimeoutError ||
    error instanceof IqrfResponseError ||
    (error instanceof IqrfStatusError && error.status === DPA_TIMEOUT)
  );
}

/** UNCONFIRMED: each actuator's state keeps what was last confirmed (never what was asked), marked UNCONFIRMED. */
async function unconfirmed(ctx: DevicesContext, items: ReadonlyArray<{ actuator: ActuatorInfo }>): Promise<NodeOutcome> {
  const ids = items.map(({ actuator }) => actuator.id);
  const known = await ctx.sources.actuatorLog.states(ids);
  const states = new Map(ids.map((id, i) => [id, known[i]]));
  const finishedAt = new Date().toISOString();
  return {
    of: () => ({ outcome: 'UNCONFIRMED', finishedAt }),
    stateOf: (actuator) => {
      const last = states.get(actuator.id);
      return {
        ...(last?.on !== undefined ? { on: last.on } : {}),
        ...(last?.level !== undefined ? { level: last.level } : {}),
        status: 'UNCONFIRMED',
        ...(last?.confirmedAt ? { confirmedAt: last.confirmedAt } : {}),
      };
    },
  };
}

/** Records how a command ended (its event carries the state after it, when known) and primes the request's state loader. */
async function finish(
  ctx: DevicesContext,
  actuator: ActuatorInfo,
  record: ActuatorCommandRecord,
  state?: ActuatorStateRecord,
): Promise<ActuatorCommandRecord> {
  const done = { ...record, finishedAt: record.finishedAt ?? new Date().toISOString() };
  const kind = done.outcome === 'PENDING' ? 'COMMANDED' : done.outcome;
  await ctx.sources.actuatorLog.append({ ...eventOf(kind, actuator, done), ...(state ? { state } : {}) });
  if (state) ctx.loaders.actuatorState.clear(actuator.id).prime(actuator.id, state);
  return done;
}

function eventOf(kind: ActuatorEventRecord['kind'], actuator: ActuatorInfo, command: ActuatorCommandRecord): ActuatorEventRecord {
  return { kind, time: new Date().toISOString(), actuatorId: actuator.id, gatewayId: actuator.gatewayId, tenant: actuator.tenant, command };
}

/** At most `limit` tasks at once; the others wait for a turn, in order. */
class Turns {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
