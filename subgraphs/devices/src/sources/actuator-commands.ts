import { randomUUID } from 'node:crypto';
import { IqrfResponseError, IqrfStatusError, IqrfTimeoutError, IqrfUnavailableError, MType, Turns } from '#iqrf';
import { ErrorCode, userError } from '#kit';
import type { Logger } from '#log';
import type { ActuatorCommandRecord, ActuatorEventRecord, ActuatorInfo, ActuatorKind, ActuatorLog, ActuatorStateRecord } from '#registry';
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
  try {
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
  } catch (error) {
    throw await unauditedBeforeSending(ctx, accepted, error);
  }
  const finished = await sendPerNode(ctx, accepted, order);
  for (const [i, record] of records.entries()) records[i] = finished.get(record.id) ?? record;
  return records;
}

/**
 * The audit log could not be written before anything was sent (Redis down): nothing is sent, as a
 * command is never carried out unaudited. Those already recorded COMMANDED are finished FAILED when
 * the log takes it (else the start-up sweep finishes them UNCONFIRMED). A clear error for the caller.
 */
async function unauditedBeforeSending(
  ctx: DevicesContext,
  accepted: ReadonlyArray<{ actuator: ActuatorInfo; record: ActuatorCommandRecord }>,
  error: unknown,
): Promise<Error> {
  ctx.services.logger.error({ err: error }, 'actuator log cannot be written; actuator commands are not sent');
  const error_ = 'The actuator audit log could not be written, so the command was not sent';
  for (const { actuator, record } of accepted)
    await finish(ctx, actuator, { ...record, outcome: 'FAILED', error: error_ }).catch(() => undefined);
  return userError(ErrorCode.UPSTREAM_ERROR, `${error_}: nothing was sent to any actuator; retry once the platform's store is back`);
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
  const unwritten: string[] = [];
  await Promise.all(
    [...nodes.values()].map(async (items) => {
      const gatewayId = items[0]!.actuator.gatewayId;
      let gatewayTurns = turns.get(gatewayId);
      if (!gatewayTurns) turns.set(gatewayId, (gatewayTurns = new Turns(NODES_PER_GATEWAY)));
      const outcome = await gatewayTurns.run(() => sendToNode(ctx, items, order));
      for (const { actuator, record } of items) {
        try {
          finished.set(record.id, await finish(ctx, actuator, { ...record, ...outcome.of(actuator) }, outcome.stateOf(actuator)));
        } catch (error) {
          ctx.services.logger.error({ actuatorId: actuator.id, commandId: record.id, err: error }, 'actuator command outcome not audited');
          unwritten.push(actuator.id);
        }
      }
    }),
  );
  // Never an outcome the audit does not hold: the command stays PENDING there, and the sweep of
  // interrupted commands finishes it UNCONFIRMED once the log can be written again.
  if (unwritten.length)
    throw userError(
      ErrorCode.UPSTREAM_ERROR,
      `The command was sent, but its outcome could not be written to the actuator audit log (${unwritten.sort().join(', ')}): ` +
        'it is not known to the platform; read the actuator again once the platform is back',
      { actuatorIds: unwritten },
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
    stateOf: (actuator) => unconfirmedState(states.get(actuator.id)),
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

/** Why a command interrupted by a restart (or an unwritable log) is UNCONFIRMED, as its trail says. */
export const INTERRUPTED_COMMAND_ERROR =
  "The API restarted (or could not record the answer) before the gateway's answer came: the command may or may not have been carried out";

/**
 * Finishes as UNCONFIRMED the commands still PENDING that were asked more than `olderThanMs` ago
 * (the command timeout: no process waits for their answer any more, since a live one would have
 * given up by then), with `INTERRUPTED_COMMAND_ERROR`; each actuator's state keeps its last
 * confirmed values, marked UNCONFIRMED; the events are streamed. Younger ones are left alone: they
 * may be in flight in another devices instance sharing the log. Of several instances finishing
 * the same command, one does (`appendIfPending`). A group command still running elsewhere past the
 * timeout (its nodes wait their turns) may be finished so first; its own answer then follows and is
 * the trail's last word. Resolves with how many were finished and how many were left for later.
 */
export async function finishInterruptedCommands(
  log: ActuatorLog,
  olderThanMs: number,
  logger: Logger,
): Promise<{ finished: number; younger: number }> {
  const cutoff = Date.now() - olderThanMs;
  let finished = 0;
  let younger = 0;
  for (const command of await log.pendingCommands()) {
    if (!(Date.parse(command.requestedAt) < cutoff)) {
      younger++;
      continue;
    }
    const [last] = await log.states([command.actuatorId]);
    const now = new Date().toISOString();
    const done: ActuatorCommandRecord = { ...command, outcome: 'UNCONFIRMED', finishedAt: now, error: INTERRUPTED_COMMAND_ERROR };
    const appended = await log.appendIfPending({
      kind: 'UNCONFIRMED',
      time: now,
      actuatorId: command.actuatorId,
      gatewayId: command.gatewayId,
      tenant: command.tenant,
      command: done,
      state: unconfirmedState(last),
    });
    if (appended) finished++;
  }
  if (finished) logger.warn({ finished, younger }, 'actuator commands left PENDING by a restart were finished UNCONFIRMED');
  return { finished, younger };
}

/**
 * Sweeps interrupted commands (`finishInterruptedCommands`) at start and then every `everyMs`, so
 * that what another instance left PENDING when it died, or what could not be written while the log
 * was down, is finished once old enough. A sweep that fails (the log unreachable) is logged and
 * tried again at the next.
 */
export class InterruptedCommandSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly log: ActuatorLog,
    private readonly olderThanMs: number,
    private readonly logger: Logger,
    private readonly everyMs = Math.max(olderThanMs, 1_000),
  ) {}

  /** Runs the first sweep (its failure is logged, not thrown: the subgraph still starts), then schedules the next. */
  async start(): Promise<void> {
    await this.sweep();
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.sweep().then(() => this.schedule());
    }, this.everyMs);
    this.timer.unref();
  }

  private sweep(): Promise<unknown> {
    this.running = finishInterruptedCommands(this.log, this.olderThanMs, this.logger).catch((error: unknown) =>
      this.logger.error({ err: error }, 'actuator commands left PENDING could not be swept; trying again later'),
    );
    return this.running;
  }
}

/** The state of an actuator whose command went unanswered: its last known values, never the asked ones, marked UNCONFIRMED. */
function unconfirmedState(last: ActuatorStateRecord | undefined): ActuatorStateRecord {
  return {
    ...(last?.on !== undefined ? { on: last.on } : {}),
    ...(last?.level !== undefined ? { level: last.level } : {}),
    status: 'UNCONFIRMED',
    ...(last?.confirmedAt ? { confirmedAt: last.confirmedAt } : {}),
  };
}

function eventOf(kind: ActuatorEventRecord['kind'], actuator: ActuatorInfo, command: ActuatorCommandRecord): ActuatorEventRecord {
  return { kind, time: new Date().toISOString(), actuatorId: actuator.id, gatewayId: actuator.gatewayId, tenant: actuator.tenant, command };
}
