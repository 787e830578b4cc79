import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { isAdmin, requireScope, Scope } from '#auth';
import { isActuatorTime } from '#iqrf';
import { ErrorCode, userError } from '#kit';
import { parseActuatorId, type ActuatorInfo, type ActuatorLogEntry } from '#registry';
import type { Resolvers, UserError, UserErrorCode } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { createLoaders } from '../loaders.ts';
import type { ActuatorCommandModel, ActuatorEventModel, ActuatorModel } from '../models.ts';
import { runMutation } from '../run-mutation.ts';
import { badInput, MutationFailure } from '../user-errors.ts';
import {
  ANOTHER_CALLER,
  canSeeActuator,
  commandRefusal,
  commandSubject,
  seesCommandsOf,
  unseenCommandRefusal,
} from '../sources/actuator-access.ts';
import { commandActuators, type ActuatorOrder } from '../sources/actuator-commands.ts';
import { ActuatorEventStream, decodeActuatorCursor, encodeActuatorCursor } from '../sources/actuator-events.ts';
import { actuatorFromId, actuatorGatewayIds, actuatorNotFound, requireActuator, visibleActuators } from '../sources/actuator-lookup.ts';

/** The payload of `commandActuators`, its commands as the trail keeps them. */
type GroupPayload = { groupId: string | null; commands: ActuatorCommandModel[]; userErrors: UserError[] };

/** Audit entries one page gives at most. */
const MAX_AUDIT_PAGE = 100;
/** Actuators one group command reaches at most. */
const MAX_GROUP = 500;
/** Actuator ids one subscription names at most. */
const MAX_SUBSCRIBED_IDS = 1000;
/** Live events waiting for one subscriber before it is ended (SLOW_CONSUMER). */
const EVENT_QUEUE_LIMIT = 1000;

/** `Actuator`, `ActuatorCommand`, `ActuatorEvent`, and the actuator fields of `Query`, `Mutation`, `Subscription`, `Gateway`, `MeshNode`. */
export const actuatorResolvers: Resolvers = {
  Actuator: {
    // One the caller may not see resolves to null, as a missing one does.
    __resolveReference: async ({ id }, ctx) => {
      if (ctx.caller.kind === 'anonymous') requireScope(ctx.caller, Scope.DEVICES_READ);
      const described = await actuatorFromId(ctx, id);
      if (!described || !(await canSeeActuator(ctx, described))) return null;
      return (await ctx.loaders.actuator.load(id)) ?? described;
    },
    room: ({ room }) => room ?? null,
    // A grantee from outside the tenant (a partner's key) sees the actuator, not its gateway or node.
    gateway: ({ gatewayId }, _, { loaders }) => loaders.visibleGateway.load(gatewayId),
    node: async ({ gatewayId, address }, _, { loaders }) =>
      (await loaders.visibleGateway.load(gatewayId)) ? { gatewayId, address } : null,
    state: ({ id }, _, { loaders }) => loaders.actuatorState.load(id),
    canCommand: async (actuator, _, ctx) => {
      if (ctx.caller.kind === 'anonymous') return false;
      return (await commandRefusal(ctx, actuator)) === undefined;
    },
    audit: async (actuator, { last, before }, ctx) => {
      if (!Number.isInteger(last) || last < 1 || last > MAX_AUDIT_PAGE)
        throw userError(ErrorCode.BAD_USER_INPUT, `last must be 1-${MAX_AUDIT_PAGE}`, { field: 'last' });
      return auditOf(ctx, actuator, last, before ?? undefined);
    },
  },
  ActuatorCommand: {
    // Built from its ids when its mesh cannot be read: the trail outlives the gateway's answers.
    actuator: async ({ actuatorId, tenant }, _, ctx) =>
      (await ctx.loaders.actuator.load(actuatorId).catch(() => null)) ?? describedOrFail(ctx, actuatorId, tenant),
    // A grantee hears every event of what it was granted, but not who else commands it (the tenant's users, other partners).
    requestedBy: ({ requestedBy, tenant }, _, { caller }) =>
      seesCommandsOf(caller, tenant) || requestedBy === commandSubject(caller) ? requestedBy : ANOTHER_CALLER,
    durationSeconds: ({ durationSeconds }) => durationSeconds ?? null,
    on: ({ on }) => on ?? null,
    level: ({ level }) => level ?? null,
    previous: ({ previous }) => previous ?? null,
    finishedAt: ({ finishedAt }) => finishedAt ?? null,
    errorCode: ({ errorCode }) => (errorCode as UserErrorCode | undefined) ?? null,
    error: ({ error }) => error ?? null,
    groupId: ({ groupId }) => groupId ?? null,
  },
  ActuatorEvent: {
    cursor: ({ position }) => encodeActuatorCursor(position),
    kind: ({ event }) => event.kind,
    time: ({ event }) => event.time,
    actuator: async ({ event }, _, ctx) =>
      (await ctx.loaders.actuator.load(event.actuatorId).catch(() => null)) ?? describedOrFail(ctx, event.actuatorId, event.tenant),
    command: ({ event }) => event.command ?? null,
    state: ({ event }) => event.state ?? null,
  },
  Gateway: {
    actuators: async ({ id }, { kind }, ctx) => {
      const actuators = await ctx.loaders.gatewayActuators.load(id);
      return visibleOf(
        ctx,
        actuators.filter((a) => !kind || a.kind === kind),
      );
    },
  },
  MeshNode: {
    actuators: async ({ gatewayId, address }, _, ctx) => {
      const actuators = await ctx.loaders.gatewayActuators.load(gatewayId).catch(() => []);
      return visibleOf(
        ctx,
        actuators.filter((a) => a.address === address),
      );
    },
  },
  Query: {
    actuator: async (_, { id }, ctx) => {
      if (ctx.caller.kind === 'anonymous') requireScope(ctx.caller, Scope.DEVICES_READ);
      return requireActuator(ctx, id);
    },
    actuators: async (_, { gatewayId, room, kind }, ctx) => {
      if (ctx.caller.kind === 'anonymous') requireScope(ctx.caller, Scope.DEVICES_READ);
      const list = await visibleActuators(ctx, {
        ...(gatewayId ? { gatewayId } : {}),
        ...(room ? { room } : {}),
        ...(kind ? { kind } : {}),
      });
      return list.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
    },
  },
  Mutation: {
    switchActuator: (_, { input }, ctx) =>
      runMutation(ctx, 'switchActuator', input, { actuator: null, command: null }, async () => {
        if (input.durationSeconds != null && !input.on) throw badInput('durationSeconds', 'durationSeconds is for switching on only');
        checkDuration(input.durationSeconds);
        return singleCommand(ctx, input.actuatorId, {
          on: input.on,
          ...(input.durationSeconds != null ? { durationSeconds: input.durationSeconds } : {}),
        });
      }),
    setLightLevel: (_, { input }, ctx) =>
      runMutation(ctx, 'setLightLevel', input, { actuator: null, command: null }, async () => {
        checkLevel(input.level);
        checkDuration(input.durationSeconds);
        return singleCommand(ctx, input.actuatorId, {
          level: input.level,
          ...(input.durationSeconds != null ? { durationSeconds: input.durationSeconds } : {}),
        });
      }),
    commandActuators: (_, { input }, ctx) =>
      runMutation<GroupPayload>(ctx, 'commandActuators', input, { groupId: null, commands: [] }, async () => {
        requireScope(ctx.caller, Scope.ACTUATORS_WRITE);
        const { select } = input;
        if ((input.on == null) === (input.level == null))
          throw badInput('on', 'Give exactly one of on (binary outputs) and level (lights)');
        if (input.level != null) checkLevel(input.level);
        checkDuration(input.durationSeconds);
        if (input.durationSeconds != null && input.on === false)
          throw badInput('durationSeconds', 'durationSeconds is for switching on only');
        if (!select.actuatorIds?.length && !select.gatewayId) throw badInput('select', 'Select actuatorIds or a gatewayId');
        const order: ActuatorOrder = {
          ...(input.on != null ? { on: input.on } : {}),
          ...(input.level != null ? { level: input.level } : {}),
          ...(input.durationSeconds != null ? { durationSeconds: input.durationSeconds } : {}),
        };
        const targets = await groupTargets(ctx, select, order).catch((error: unknown) => {
          throw notSent(ctx, error);
        });
        const groupId = `group-${randomUUID()}`;
        return { groupId, commands: await commandActuators(ctx, targets, order, groupId) };
      }),
  },
  Subscription: {
    actuatorEvents: {
      subscribe: async (_, { gatewayId, actuatorIds, after }, ctx) => {
        const stream = new ActuatorEventStream(
          ctx.sources.actuatorLog,
          await eventFilter(ctx, gatewayId ?? undefined, actuatorIds ?? undefined),
          EVENT_QUEUE_LIMIT,
          after != null ? decodeActuatorCursor(after) : undefined,
        );
        return stream.prepare();
      },
      resolve: (entry: ActuatorLogEntry | GraphQLError, _args: unknown, ctx: DevicesContext): ActuatorEventModel => {
        if (entry instanceof GraphQLError) throw entry;
        // The context lives as long as the subscription: each event reads meshes and states afresh.
        ctx.loaders = createLoaders(ctx.sources, ctx.caller);
        return entry;
      },
    },
  },
};

/** One command to one actuator: NOT_FOUND when the caller may not see it, a top-level FORBIDDEN without the right. */
async function singleCommand(
  ctx: DevicesContext,
  actuatorId: string,
  order: ActuatorOrder,
): Promise<{ actuator: ActuatorModel; command: ActuatorCommandModel }> {
  if (ctx.caller.kind === 'anonymous') requireScope(ctx.caller, Scope.ACTUATORS_WRITE);
  const actuator = await requireActuatorForCommand(ctx, actuatorId);
  const [command] = await commandActuators(ctx, [actuator], order);
  if (!command) throw new Error('no command recorded');
  if (command.outcome === 'REFUSED' && command.errorCode === 'FORBIDDEN')
    throw new GraphQLError(command.error ?? `No grant to command actuator "${actuator.id}"`, {
      extensions: { code: ErrorCode.FORBIDDEN, actuatorId: actuator.id },
    });
  if (command.outcome === 'REFUSED' || command.outcome === 'FAILED')
    throw new MutationFailure((command.errorCode as UserErrorCode | undefined) ?? 'GATEWAY_ERROR', command.error ?? 'The command failed', [
      'input',
      'actuatorId',
    ]);
  return { actuator, command };
}

/** The actuator a command names: visible to the caller (NOT_FOUND otherwise, as a user error). */
async function requireActuatorForCommand(ctx: DevicesContext, id: string): Promise<ActuatorInfo> {
  try {
    return await requireActuator(ctx, id);
  } catch (error) {
    if (error instanceof GraphQLError && error.extensions.code === ErrorCode.NOT_FOUND) {
      // A commander that may not see it (a partner's key, a revoked grant) is told FORBIDDEN, the
      // same whether it exists or not: nothing is told of another tenant's actuators.
      const refusal = await unseenCommandRefusal(ctx, id);
      if (refusal) throw new GraphQLError(refusal.message, { extensions: { code: ErrorCode.FORBIDDEN, actuatorId: id } });
      throw new MutationFailure('NOT_FOUND', error.message, ['input', 'actuatorId']);
    }
    if (error instanceof GraphQLError && typeof error.extensions.code === 'string')
      throw new MutationFailure(error.extensions.code as UserErrorCode, error.message, ['input', 'actuatorId']);
    throw notSent(ctx, error);
  }
}

/**
 * A failure to find what a command reaches (the registry or the platform's store not answering):
 * nothing was sent, and the caller is told so (UPSTREAM_ERROR) rather than an unexpected error.
 */
function notSent(ctx: DevicesContext, error: unknown): Error {
  if (error instanceof GraphQLError || error instanceof MutationFailure) return error;
  ctx.services.logger.error({ err: error }, 'the actuators of a command cannot be looked up; nothing was sent');
  return userError(ErrorCode.UPSTREAM_ERROR, "The platform's store did not answer, so the command was not sent: retry once it is back");
}

/**
 * What a group command reaches: the visible actuators the selection names. Listed ids must all be
 * visible (NOT_FOUND otherwise) and are kept whatever their kind (the wrong kind is REFUSED per
 * actuator); a gateway's (room's) actuators are narrowed to the order's kind.
 */
async function groupTargets(
  ctx: DevicesContext,
  select: { actuatorIds?: readonly string[] | null; gatewayId?: string | null; room?: string | null; kind?: ActuatorInfo['kind'] | null },
  order: ActuatorOrder,
): Promise<ActuatorInfo[]> {
  const kind = order.level !== undefined ? 'LIGHT' : 'BINARY_OUTPUT';
  const ids = select.actuatorIds?.length ? [...new Set(select.actuatorIds)] : undefined;
  if (ids && ids.length > MAX_GROUP) throw badInput('select.actuatorIds', `At most ${MAX_GROUP} actuators per group command`);
  const selection = {
    ...(ids ? { actuatorIds: ids } : {}),
    ...(select.gatewayId ? { gatewayId: select.gatewayId } : {}),
    ...(select.room ? { room: select.room } : {}),
    ...(select.kind ? { kind: select.kind } : {}),
  };
  const found = await visibleActuators(ctx, selection);
  if (ids) {
    const missing = ids.find((id) => !found.some((a) => a.id === id));
    if (missing !== undefined)
      throw new MutationFailure('NOT_FOUND', actuatorNotFound(missing).message, ['input', 'select', 'actuatorIds']);
  }
  if (!found.length) throw badInput('select', 'The selection matches no actuator');
  const targets = ids ? found : found.filter((a) => a.kind === kind);
  if (!targets.length || !targets.some((a) => a.kind === kind))
    throw badInput(
      'select',
      `The selection has no ${kind === 'LIGHT' ? 'light (level is for lights)' : 'binary output (on is for binary outputs)'}`,
    );
  if (targets.length > MAX_GROUP)
    throw badInput('select', `The selection matches ${targets.length} actuators; at most ${MAX_GROUP} per group command`);
  return targets.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > 100) throw badInput('level', 'level is a power of 0-100 %');
}

function checkDuration(seconds: number | null | undefined): void {
  if (seconds != null && !isActuatorTime(seconds))
    throw badInput('durationSeconds', 'durationSeconds is 1-127 s, or 1-127 whole minutes (60-7620 s, a multiple of 60)');
}

async function visibleOf(ctx: DevicesContext, actuators: readonly ActuatorInfo[]): Promise<ActuatorModel[]> {
  const visible = await Promise.all(actuators.map((a) => canSeeActuator(ctx, a)));
  return actuators.filter((_, i) => visible[i]);
}

/** An actuator from its ids and the registry, when its mesh cannot say; an error when even its gateway is gone. */
async function describedOrFail(ctx: DevicesContext, actuatorId: string, tenant: string): Promise<ActuatorModel> {
  const described = await actuatorFromId(ctx, actuatorId, tenant);
  if (!described) throw actuatorNotFound(actuatorId);
  return described;
}

/**
 * An actuator's trail, newest first: for operators every entry; for its tenant's callers with
 * `devices:read` the entries of their tenant (a node handed to another tenant keeps its earlier
 * commands from the new one); a grantee (a partner API key) sees its own commands only.
 */
async function auditOf(ctx: DevicesContext, actuator: ActuatorInfo, last: number, before?: string): Promise<ActuatorCommandModel[]> {
  const { caller, sources } = ctx;
  if (isAdmin(caller)) return sources.actuatorLog.audit(actuator.id, { last, ...(before ? { before } : {}) });
  const subject = commandSubject(caller);
  const shown = (entry: ActuatorCommandModel) => (seesCommandsOf(caller, entry.tenant) ? true : entry.requestedBy === subject);
  const kept: ActuatorCommandModel[] = [];
  let cursor = before;
  // Pages of the whole trail, keeping what the caller may see, until enough or the trail ends.
  for (let page = 0; page < 20 && kept.length < last; page++) {
    const entries = await sources.actuatorLog.audit(actuator.id, { last: MAX_AUDIT_PAGE, ...(cursor ? { before: cursor } : {}) });
    kept.push(...entries.filter(shown));
    if (entries.length < MAX_AUDIT_PAGE) break;
    cursor = entries.at(-1)!.id;
  }
  return kept.slice(0, last);
}

/**
 * What a subscriber to actuator events gets: of a gateway it may see actuators on, or of listed
 * actuators it may see (NOT_FOUND otherwise); each event passes the caller's wall again, with the
 * tenant the actuator had when it happened.
 */
async function eventFilter(ctx: DevicesContext, gatewayId: string | undefined, actuatorIds: readonly string[] | undefined) {
  if (ctx.caller.kind === 'anonymous') requireScope(ctx.caller, Scope.DEVICES_READ);
  if (!gatewayId && !actuatorIds?.length) throw userError(ErrorCode.BAD_USER_INPUT, 'Give gatewayId or actuatorIds');
  if (actuatorIds && actuatorIds.length > MAX_SUBSCRIBED_IDS)
    throw userError(ErrorCode.BAD_USER_INPUT, `At most ${MAX_SUBSCRIBED_IDS} actuatorIds per subscription`, { field: 'actuatorIds' });
  if (gatewayId && !(await actuatorGatewayIds(ctx, gatewayId)).length)
    throw userError(ErrorCode.NOT_FOUND, `No gateway "${gatewayId.slice(0, 80)}"`, { field: 'gatewayId' });
  // Together, so that the registry is read in one batch however many are listed.
  const seen = await Promise.all(
    (actuatorIds ?? []).map(async (id) => {
      const described = parseActuatorId(id) ? await actuatorFromId(ctx, id) : null;
      return described !== null && (await canSeeActuator(ctx, described));
    }),
  );
  const unseen = seen.indexOf(false);
  if (unseen >= 0) throw actuatorNotFound(actuatorIds![unseen]!);
  // The registry is read again at most once a second per gateway for the events' walls.
  const records = new Map<string, { at: number; record: Promise<Awaited<ReturnType<typeof actuatorFromId>>> }>();
  return {
    ...(gatewayId ? { gatewayId } : {}),
    ...(actuatorIds?.length ? { actuatorIds: new Set(actuatorIds) } : {}),
    visible: async ({ event }: ActuatorLogEntry) => {
      const key = `${event.actuatorId} ${event.tenant}`;
      let cached = records.get(key);
      if (!cached || Date.now() - cached.at > 1_000) {
        cached = {
          at: Date.now(),
          record: actuatorFromId({ ...ctx, loaders: createLoaders(ctx.sources, ctx.caller) }, event.actuatorId, event.tenant),
        };
        records.set(key, cached);
        if (records.size > 10_000) records.delete(records.keys().next().value!);
      }
      const actuator = await cached.record;
      return actuator !== null && (await canSeeActuator(ctx, actuator));
    },
  };
}
