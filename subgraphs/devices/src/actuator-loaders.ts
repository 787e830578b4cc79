import DataLoader from 'dataloader';
import type { Caller } from '#auth';
import { MType, type ObservedMesh } from '#iqrf';
import { describeMeshActuators, parseActuatorId, type ActuatorInfo, type ActuatorStateRecord, type GatewayRecord } from '#registry';
import type { DevicesSources } from './context.ts';
import { toGraphQLError } from './errors.ts';

export type ActuatorLoaders = ReturnType<typeof createActuatorLoaders>;

/** The Light standard's power value that reports a light's power without changing it. */
export const REPORT_POWER = 127;

/** The state of an actuator never read (or whose node never answered). */
const UNKNOWN_STATE: ActuatorStateRecord = { status: 'UNKNOWN' };

/**
 * Node reads (one daemon request per node and kind) one request may cause: a gateway's worth and
 * more (the largest demo gateway has about 30 actuator nodes). Beyond, states are the last known:
 * a query of every actuator of a city must not put thousands of requests on its gateways' radios.
 */
export const MAX_NODE_READS_PER_REQUEST = 64;

/**
 * Per-operation DataLoaders of actuators. They are not walled by tenant: a partner API key sees
 * the actuators tenants granted it, on gateways it sees nothing else of. Every resolver filters
 * what they give with `canSeeActuator` before it tells anything.
 *
 * - `actuatorGateway`, `actuatorMesh`: gateway records and their meshes (one snapshot per gateway
 *   and request, as `MeshCatalog` gives it);
 * - `gatewayActuators`, `actuator`: the actuators each mesh enumerated, named from the registry;
 * - `actuatorState`: each actuator's state, read from its node (one daemon request per node and
 *   kind per request, however many of its actuators are asked; `MAX_NODE_READS_PER_REQUEST` nodes
 *   at most) while its gateway answers, else the last state the log keeps. A read that finds
 *   another state than last confirmed records STATE_CHANGED.
 */
export function createActuatorLoaders(sources: DevicesSources, _caller: Caller) {
  const actuatorGateway = new DataLoader<string, GatewayRecord | null>(async (ids) =>
    (await sources.registry.getMany(ids)).map((record) => (record && record.status !== 'DECOMMISSIONED' ? record : null)),
  );

  const actuatorMesh = new DataLoader<string, ObservedMesh | null>(async (gatewayIds) => {
    const records = await actuatorGateway.loadMany(gatewayIds);
    return Promise.all(
      records.map(async (record) => {
        if (record instanceof Error || !record) return record;
        return sources.catalog.mesh(record).catch(toGraphQLError);
      }),
    );
  });

  const gatewayActuators = new DataLoader<string, ActuatorInfo[]>(async (gatewayIds) => {
    const [records, meshes] = await Promise.all([actuatorGateway.loadMany(gatewayIds), actuatorMesh.loadMany(gatewayIds)]);
    return records.map((record, i) => {
      const mesh = meshes[i];
      if (record instanceof Error) return record;
      if (!record) return [];
      if (mesh instanceof Error) return mesh;
      return mesh ? describeMeshActuators(record, mesh) : [];
    });
  });

  const actuator = new DataLoader<string, ActuatorInfo | null>(async (ids) => {
    const gatewayIds = [...new Set(ids.flatMap((id) => parseActuatorId(id)?.gatewayId ?? []))];
    const lists = await gatewayActuators.loadMany(gatewayIds);
    const byGateway = new Map(gatewayIds.map((id, i) => [id, lists[i]!]));
    return ids.map((id) => {
      const key = parseActuatorId(id);
      const list = key && byGateway.get(key.gatewayId);
      if (!list) return null;
      if (list instanceof Error) return list;
      return list.find((a) => a.id === id) ?? null;
    });
  });

  const readBudget = { left: MAX_NODE_READS_PER_REQUEST };
  const actuatorState = new DataLoader<string, ActuatorStateRecord>(async (ids) => {
    const known = await actuator.loadMany(ids);
    const stored = await sources.actuatorLog.states(ids);
    const infos = known.flatMap((info) => (info && !(info instanceof Error) ? [info] : []));
    const read = await readStates(sources, infos, readBudget);
    return Promise.all(
      ids.map(async (id, i) => {
        const last = stored[i];
        const info = known[i];
        const fresh = read.get(id);
        if (!info || info instanceof Error || !fresh) return last ?? UNKNOWN_STATE;
        return settleRead(sources, info, last, fresh);
      }),
    );
  });

  return { actuatorGateway, actuatorMesh, gatewayActuators, actuator, actuatorState };
}

/**
 * What a read of the node found, compared with what the log keeps: a state other than the last
 * confirmed one is a STATE_CHANGED event (a timed output ran out, a switch by hand, a command whose
 * answer was lost); the same values confirm an UNCONFIRMED state. Gives the state as read.
 */
async function settleRead(
  sources: DevicesSources,
  info: ActuatorInfo,
  last: ActuatorStateRecord | undefined,
  fresh: ActuatorStateRecord,
): Promise<ActuatorStateRecord> {
  const changed = last !== undefined && last.status !== 'UNKNOWN' && (last.on !== fresh.on || last.level !== fresh.level);
  if (changed) {
    const { id: actuatorId, gatewayId, tenant } = info;
    await sources.actuatorLog.append({ kind: 'STATE_CHANGED', time: fresh.confirmedAt!, actuatorId, gatewayId, tenant, state: fresh });
  } else if (last?.status !== 'CONFIRMED') await sources.actuatorLog.saveState(info.id, fresh);
  return fresh;
}

/**
 * Reads the state of `actuators` from their nodes: per node, one Binary Output request with no
 * output named (its answer reports all 32) and one Light request with power 127 for each light
 * (reports each). Nodes of gateways not asked now (offline, breaker open), nodes beyond the
 * request's `budget` of node reads, and nodes that do not answer, are left out.
 */
async function readStates(
  sources: DevicesSources,
  actuators: readonly ActuatorInfo[],
  budget: { left: number },
): Promise<Map<string, ActuatorStateRecord>> {
  const states = new Map<string, ActuatorStateRecord>();
  const nodes = new Map<string, ActuatorInfo[]>();
  for (const info of actuators) {
    if (!sources.catalog.reachable(info.gatewayId)) continue;
    const key = `${info.gatewayId}:${info.address}:${info.kind}`;
    const group = nodes.get(key);
    if (group) group.push(info);
    else if (budget.left > 0) {
      budget.left--;
      nodes.set(key, [info]);
    }
  }
  const timeoutMs = sources.actuatorCommandTimeoutMs;
  await Promise.all(
    [...nodes.values()].map(async (group) => {
      const { gatewayId, address, kind } = group[0]!;
      try {
        if (kind === 'BINARY_OUTPUT') {
          const answer = await sources.iqrf.request(
            gatewayId,
            MType.BINARY_OUTPUT_SET,
            { nAdr: address, param: { binOuts: [] } },
            { timeoutMs },
          );
          const confirmedAt = new Date().toISOString();
          // An output the answer lacks is left out (its last known state stands), never taken for off.
          for (const info of group) {
            const on = answer.rsp.result.prevVals[info.index];
            if (on !== undefined) states.set(info.id, { on, status: 'CONFIRMED', confirmedAt });
          }
        } else {
          const indexes = [...new Set(group.map((info) => info.index))].sort((a, b) => a - b);
          const lights = indexes.map((index) => ({ index, power: REPORT_POWER }));
          const answer = await sources.iqrf.request(gatewayId, MType.LIGHT_SET_POWER, { nAdr: address, param: { lights } }, { timeoutMs });
          const confirmedAt = new Date().toISOString();
          const levels = new Map(indexes.map((index, i) => [index, answer.rsp.result.prevVals[i]]));
          for (const info of group) {
            const level = levels.get(info.index);
            if (level !== undefined) states.set(info.id, { level, status: 'CONFIRMED', confirmedAt });
          }
        }
      } catch {
        // A node that does not answer keeps its last known state (its `status` says so).
      }
    }),
  );
  return states;
}
