import { canSeeTenant, requireScope, Scope, type Caller } from '#auth';
import { runSteps, type GatewayToProvision, type Step } from '#cloud';
import type { GatewayMqttCredentials } from '#broker';
import { defaultTopics, MType, topicFor } from '#iqrf';
import { ErrorCode, quoteInput, userError } from '#kit';
import { nodeTenant, type GatewayRecord, type GatewayRegistry } from '#registry';
import type { MutationResolvers, RegisterGatewayInput } from '../__generated__/resolvers.ts';
import type { DevicesContext, Provisioner } from '../context.ts';
import { forgetGateway } from '../loaders.ts';
import { runMutation } from '../run-mutation.ts';
import { announceMeshChange } from '../sources/mesh-change.ts';
import { badInput, MutationFailure } from '../user-errors.ts';

const GATEWAY_ID = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
export const TENANT = /^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$/;
/** Daemon requests that change the mesh take long on a real network. */
const MESH_TIMEOUT_MS = 30_000;

/**
 * Mutations: scopes are checked first (a top-level error), then `runMutation` gives idempotency
 * and turns expected failures into the payload's `userErrors`. Gateways come through the
 * loader, whose tenant wall makes another tenant's gateway NOT_FOUND like an unknown one.
 * Gateway-level operations (bonding, discovery, collector, credentials, decommission) are the
 * owner's and the operators': a guest tenant of a shared gateway sees it, so it is told FORBIDDEN
 * (`requireGatewayOwner`), not NOT_FOUND.
 */
export const Mutation: MutationResolvers = {
  async registerGateway(_, { input }, ctx) {
    requireScope(ctx.caller, Scope.DEVICES_WRITE);
    requireOwnTenant(ctx.caller, input.tenant);
    return runMutation(ctx, 'registerGateway', input, { gateway: null, collector: null, mqttCredentials: null }, async () => {
      const { sources, services } = ctx;
      // Whether the tenant is onboarded is the data center's to say: provisioning checks it first.
      const record = validateRegistration(input);
      // Ids are global (each names a Kubernetes node): a taken one is refused, but whose it is stays unsaid.
      if ((await sources.registry.getMany([record.id]))[0]) throw idTaken(record.id);
      // The record is the last step: the gateway exists for the API only once the data center and the broker have it.
      let mqttCredentials: GatewayMqttCredentials | undefined;
      const collector = await sources.provisioner.provision(toProvision(record), [
        {
          name: 'issuing its MQTT credentials',
          run: async () => void (mqttCredentials = await sources.credentials.issue(record.id)),
          undo: async () => void (await sources.credentials.revoke(record.id)),
        },
        addToRegistry(sources.registry, record),
      ]);
      void services.activation.watch(record.id);
      return { gateway: record, collector, mqttCredentials: mqttCredentialsOf(mqttCredentials!) };
    });
  },

  async rotateGatewayCredentials(_, { input }, ctx) {
    requireScope(ctx.caller, Scope.DEVICES_WRITE);
    requireScope(ctx.caller, Scope.INFRA_WRITE);
    await requireGatewayOwner(ctx, input.gatewayId, "rotate its daemon's credentials");
    return runMutation(ctx, 'rotateGatewayCredentials', input, { gateway: null, mqttCredentials: null }, async () => {
      const gateway = await visibleGateway(input.gatewayId, ctx);
      let issued: GatewayMqttCredentials | undefined;
      await runSteps(
        `Rotating the MQTT credentials of gateway "${gateway.id}"`,
        [{ name: 'issuing new MQTT credentials', run: async () => void (issued = await ctx.sources.credentials.issue(gateway.id)) }],
        ctx.services.logger.child({ gatewayId: gateway.id }),
      );
      ctx.services.logger.info({ gatewayId: gateway.id, by: ctx.caller.subject }, 'gateway MQTT credentials rotated');
      return { gateway, mqttCredentials: mqttCredentialsOf(issued!) };
    });
  },

  async bondNode(_, { input }, ctx) {
    requireScope(ctx.caller, Scope.DEVICES_WRITE);
    await requireGatewayOwner(ctx, input.gatewayId, 'bond nodes to it');
    return runMutation(ctx, 'bondNode', input, { node: null }, async () => {
      const gateway = await visibleGateway(input.gatewayId, ctx);
      if (input.address !== null && input.address !== undefined && !isNodeAddress(input.address))
        throw badInput('address', `address must be 1-239, got ${input.address}`);
      const name = optionalText(input.name, 'name');
      const room = optionalText(input.room, 'room');
      const { sources } = ctx;
      let assigned = 0;
      try {
        await runSteps(
          `Bonding a node to gateway "${gateway.id}"`,
          [
            {
              name: 'bonding the node (iqmeshNetwork_BondNodeLocal)',
              run: async () => {
                const data = await sources.iqrf.request(
                  gateway.id,
                  MType.BOND_NODE_LOCAL,
                  { deviceAddr: input.address ?? 0 },
                  { timeoutMs: MESH_TIMEOUT_MS },
                );
                const address = data.rsp.assignedAddr;
                if (typeof address !== 'number' || !isNodeAddress(address))
                  throw new Error(`gateway "${gateway.id}" answered iqmeshNetwork_BondNodeLocal without a valid assignedAddr`);
                assigned = address;
              },
              undo: () => removeBond(ctx, gateway.id, assigned),
            },
            claimForOwner(ctx, gateway, () => assigned),
            ...(name || room
              ? [updateNodeMeta(sources.registry, gateway.id, () => assigned, { ...(name ? { name } : {}), ...(room ? { room } : {}) })]
              : []),
          ],
          ctx.services.logger.child({ gatewayId: gateway.id }),
        );
      } finally {
        await announceMeshChange(sources, gateway.id);
        forgetGateway(ctx.loaders, gateway.id);
      }
      return { node: { gatewayId: gateway.id, address: assigned } };
    });
  },

  async unbondNode(_, { input }, ctx) {
    requireScope(ctx.caller, Scope.DEVICES_WRITE);
    await requireGatewayOwner(ctx, input.gatewayId, 'unbond its nodes');
    return runMutation(ctx, 'unbondNode', input, { gateway: null, removedAddress: null }, async () => {
      const gateway = await visibleGateway(input.gatewayId, ctx);
      if (!isNodeAddress(input.address)) throw badInput('address', `address must be 1-239, got ${input.address}`);
      const { sources } = ctx;
      if (!(await sources.catalog.mesh(gateway, { fresh: true })).bonded.includes(input.address)) {
        throw new MutationFailure('NOT_FOUND', `No node ${input.address} is bonded to gateway "${gateway.id}"`, ['input', 'address']);
      }
      // Its assignment goes with it: a guest tenant whose last node it was leaves the gateway.
      const tenant = nodeTenant(gateway, input.address);
      const lastOfGuest = isLastOfGuest(gateway, input.address);
      try {
        // The bond goes last: a node cannot be bonded again from here (it must be in range and asked to).
        await runSteps(
          `Unbonding node ${input.address} of gateway "${gateway.id}"`,
          [
            // Compare-and-set: an assignment meanwhile (another node given to that guest, or this
            // one to another tenant) would leave a guest with nodes and no collector.
            forgetNodeMeta(sources.registry, gateway.id, input.address, (current) => {
              if (nodeTenant(current, input.address) !== tenant || isLastOfGuest(current, input.address) !== lastOfGuest)
                throw new MutationFailure(
                  'CONFLICT',
                  `The nodes' tenants of gateway ${quoteInput(gateway.id)} changed meanwhile (an assignNodes); nothing was changed: try again`,
                  ['input', 'address'],
                );
            }),
            ...(lastOfGuest ? [guestRemoval(sources.provisioner, toProvision(gateway), tenant)] : []),
            { name: 'removing the bond (iqmeshNetwork_RemoveBond)', run: () => removeBond(ctx, gateway.id, input.address) },
          ],
          ctx.services.logger.child({ gatewayId: gateway.id }),
        );
      } finally {
        await announceMeshChange(sources, gateway.id);
        forgetGateway(ctx.loaders, gateway.id);
      }
      return { gateway: (await sources.registry.getMany([gateway.id]))[0] ?? gateway, removedAddress: input.address };
    });
  },

  async discoverMesh(_, { input }, ctx) {
    requireScope(ctx.caller, Scope.DEVICES_WRITE);
    await requireGatewayOwner(ctx, input.gatewayId, 'discover its mesh');
    return runMutation(ctx, 'discoverMesh', input, { discovery: null }, async () => {
      const gateway = await visibleGateway(input.gatewayId, ctx);
      const waves = input.waves ?? 2;
      if (!Number.isInteger(waves) || waves < 1 || waves > 10) throw badInput('waves', `waves must be 1-10, got ${waves}`);
      const emptyWaves = input.emptyWaves ?? 1;
      if (!Number.isInteger(emptyWaves) || emptyWaves < 1 || emptyWaves > waves)
        throw badInput('emptyWaves', `emptyWaves must be 1-${waves} (waves), got ${emptyWaves}`);
      const txPower = input.txPower ?? 7;
      if (!Number.isInteger(txPower) || txPower < 0 || txPower > 7) throw badInput('txPower', `txPower must be 0-7, got ${txPower}`);
      return { discovery: ctx.services.discoveries.start(gateway.id, { waves, emptyWaves, txPower }) };
    });
  },

  async deployCollector(_, { input }, ctx) {
    requireScope(ctx.caller, Scope.DEVICES_WRITE);
    requireScope(ctx.caller, Scope.INFRA_WRITE);
    await requireGatewayOwner(ctx, input.gatewayId, 'deploy its collector');
    return runMutation(ctx, 'deployCollector', input, { gateway: null, collector: null }, async () => {
      const gateway = await visibleGateway(input.gatewayId, ctx);
      return { gateway, collector: await ctx.sources.provisioner.deployCollector(toProvision(gateway)) };
    });
  },

  async decommissionGateway(_, { input }, ctx) {
    requireScope(ctx.caller, Scope.DEVICES_WRITE);
    requireScope(ctx.caller, Scope.INFRA_WRITE);
    await requireGatewayOwner(ctx, input.gatewayId, 'decommission it');
    return runMutation(ctx, 'decommissionGateway', input, { decommissionedGatewayId: null }, async () => {
      const gateway = await visibleGateway(input.gatewayId, ctx);
      const { sources, services } = ctx;
      const discovery = services.discoveries.runningOn(gateway.id);
      if (discovery)
        throw new MutationFailure(
          'CONFLICT',
          `A mesh discovery (${discovery.id}) runs on gateway "${gateway.id}"; decommission it once that ends`,
          ['input', 'gatewayId'],
        );
      // Registry last: until the data center is clean, the gateway stays listed and can be retried.
      // Every tenant's parts go: the owner's and those of a shared gateway's guests.
      await sources.provisioner.deprovision(toProvision(gateway), [
        {
          name: 'revoking its MQTT credentials',
          run: async () => void (await sources.credentials.revoke(gateway.id)),
          // The daemon cannot know a new password: whoever retries must rotate them after.
          undo: async () => void (await sources.credentials.issue(gateway.id)),
        },
        removeFromRegistry(sources.registry, gateway),
      ]);
      sources.catalog.forget(gateway.id);
      // The id may soon name another tenant's gateway: whoever followed this one's discoveries is done.
      services.discoveries.endGateway(gateway.id);
      forgetGateway(ctx.loaders, gateway.id);
      return { decommissionedGatewayId: gateway.id };
    });
  },
};

/** Only `admin` registers gateways for other tenants: anyone else, for their own. */
function requireOwnTenant(caller: Caller, tenant: string): void {
  if (canSeeTenant(caller, tenant)) return;
  throw userError(
    ErrorCode.FORBIDDEN,
    `Your token is for tenant "${caller.tenant ?? '(none)'}": it may not register gateways for tenant ${quoteInput(tenant)}`,
    { field: 'tenant' },
  );
}

/**
 * A gateway-level operation on a gateway the caller sees but does not own (a guest tenant of a
 * shared gateway): a top-level FORBIDDEN. One it does not see is left to `visibleGateway` (NOT_FOUND).
 */
async function requireGatewayOwner(ctx: DevicesContext, gatewayId: string, action: string): Promise<void> {
  const gateway = await ctx.loaders.visibleGateway.load(gatewayId);
  if (!gateway || canSeeTenant(ctx.caller, gateway.tenant)) return;
  throw userError(
    ErrorCode.FORBIDDEN,
    `Only the owner of gateway ${quoteInput(gatewayId)} or an operator may ${action}; your tenant is a guest of it`,
    { gatewayId },
  );
}

/** A step that removes a guest tenant's parts from a gateway (`Provisioner.removeTenant`); its undo adds them again. */
export function guestRemoval(provisioner: Provisioner, gateway: GatewayToProvision, tenant: string): Step {
  return {
    name: `removing the collector pod and vRouter interface of tenant "${tenant}"`,
    run: () => provisioner.removeTenant(gateway, tenant),
    undo: async () => void (await provisioner.addTenant(gateway, tenant)),
  };
}

/** The same words for an id taken by the caller's own gateway and by another tenant's. */
function idTaken(id: string): MutationFailure {
  return new MutationFailure('ALREADY_EXISTS', `Gateway id ${quoteInput(id)} is not available`, ['input', 'id']);
}

/** The gateway if the caller may see it; NOT_FOUND otherwise (another tenant's is not told apart). */
export async function visibleGateway(id: string, { loaders }: DevicesContext): Promise<GatewayRecord> {
  const gateway = await loaders.gateway.load(id);
  if (!gateway) throw new MutationFailure('NOT_FOUND', `No gateway ${quoteInput(id)}`, ['input', 'gatewayId']);
  return gateway;
}

/** The credentials as the payload shows them: with the topics the daemon is allowed. */
function mqttCredentialsOf(credentials: GatewayMqttCredentials) {
  const { username, password, clientId, gatewayId } = credentials;
  return {
    username,
    password,
    clientId,
    requestTopic: topicFor(defaultTopics.requests, gatewayId),
    responseTopic: topicFor(defaultTopics.responses, gatewayId),
  };
}

export function toProvision(gateway: GatewayRecord): GatewayToProvision {
  return { id: gateway.id, tenant: gateway.tenant, arch: gateway.arch.toLowerCase() as GatewayToProvision['arch'] };
}

function addToRegistry(registry: GatewayRegistry, record: GatewayRecord): Step {
  return {
    name: 'recording the gateway',
    run: async () => {
      if (!(await registry.add(record))) throw idTaken(record.id);
    },
    undo: async () => void (await registry.remove(record.id)),
  };
}

function removeFromRegistry(registry: GatewayRegistry, record: GatewayRecord): Step {
  return {
    name: 'removing the gateway from the registry',
    run: async () => void (await registry.remove(record.id)),
    undo: async () => void (await registry.add(record)),
  };
}

/** Records a node's name and room; the address is known only once the bond step ran. */
function updateNodeMeta(registry: GatewayRegistry, gatewayId: string, address: () => number, meta: { name?: string; room?: string }): Step {
  let before: GatewayRecord['nodes'][number] | undefined;
  return {
    name: "recording the node's name and room",
    run: async () => {
      await registry.update(gatewayId, (g) => {
        before = g.nodes[address()];
        return { ...g, nodes: { ...g.nodes, [address()]: { ...before, ...meta } } };
      });
    },
    undo: () => restoreNodeMeta(registry, gatewayId, address(), before),
  };
}

/**
 * A node just bonded is its gateway's owner's. The registry may still give its address to a guest
 * (the earlier node there was unbonded outside the API, e.g. with IQRF IDE, or the registry was
 * restored from a backup): that assignment was of another device, and the new one's sensors and
 * readings must not become the guest's. It is cleared; a guest whose last node that was leaves the
 * gateway (its collector pod and vRouter interface go), as `unbondNode` would have done.
 */
function claimForOwner(ctx: DevicesContext, gateway: GatewayRecord, address: () => number): Step {
  const { registry, provisioner } = ctx.sources;
  let stale: string | undefined;
  let guestRemoved = false;
  const setTenant = (tenant: string | undefined) =>
    registry.update(gateway.id, (g) => {
      const { tenant: _earlier, ...meta } = g.nodes[address()] ?? {};
      const next = tenant ? { ...meta, tenant } : meta;
      const { [address()]: _node, ...others } = g.nodes;
      return { ...g, nodes: Object.keys(next).length ? { ...others, [address()]: next } : others };
    });
  return {
    name: "recording the node as its owner's",
    run: async () => {
      const [current] = await registry.getMany([gateway.id]);
      stale = current?.nodes[address()]?.tenant;
      if (!current || !stale) return;
      if (isLastOfGuest(current, address())) {
        await provisioner.removeTenant(toProvision(current), stale);
        guestRemoved = true;
      }
      await setTenant(undefined);
      ctx.services.logger.warn(
        { gatewayId: gateway.id, address: address(), tenant: stale },
        "a new node took the address of a guest's node",
      );
    },
    undo: async () => {
      if (!stale) return;
      await setTenant(stale);
      if (guestRemoved) await provisioner.addTenant(toProvision(gateway), stale);
    },
  };
}

/** Whether the node at `address` is the only one of its tenant, a guest of the gateway. */
function isLastOfGuest(gateway: GatewayRecord, address: number): boolean {
  const tenant = nodeTenant(gateway, address);
  return (
    tenant !== gateway.tenant && !Object.entries(gateway.nodes).some(([other, meta]) => Number(other) !== address && meta.tenant === tenant)
  );
}

/** Forgets what the registry knows of a node (name, room, tenant); `check` may refuse the current record (it throws). */
function forgetNodeMeta(registry: GatewayRegistry, gatewayId: string, address: number, check?: (current: GatewayRecord) => void): Step {
  let before: GatewayRecord['nodes'][number] | undefined;
  return {
    name: "forgetting the node's name and room",
    run: async () => {
      await registry.update(gatewayId, (g) => {
        check?.(g);
        const { [address]: removed, ...nodes } = g.nodes;
        before = removed;
        return { ...g, nodes };
      });
    },
    undo: () => restoreNodeMeta(registry, gatewayId, address, before),
  };
}

async function restoreNodeMeta(
  registry: GatewayRegistry,
  gatewayId: string,
  address: number,
  meta: GatewayRecord['nodes'][number] | undefined,
): Promise<void> {
  await registry.update(gatewayId, (g) => {
    const { [address]: _current, ...nodes } = g.nodes;
    return { ...g, nodes: meta ? { ...nodes, [address]: meta } : nodes };
  });
}

async function removeBond({ sources }: DevicesContext, gatewayId: string, address: number): Promise<void> {
  await sources.iqrf.request(
    gatewayId,
    MType.REMOVE_BOND,
    { deviceAddr: address, hwpId: 0xffff, wholeNetwork: false },
    { timeoutMs: MESH_TIMEOUT_MS },
  );
}

/** Checks every field of a registration and returns the record to store; throws BAD_USER_INPUT. */
function validateRegistration(input: RegisterGatewayInput): GatewayRecord {
  if (!GATEWAY_ID.test(input.id))
    throw badInput(
      'id',
      `id ${quoteInput(input.id)} must be 3-63 lowercase letters, digits or dashes, starting and ending with a letter or digit`,
    );
  const name = input.name.trim();
  if (!name || name.length > 120) throw badInput('name', 'name must be 1-120 characters');
  if (!TENANT.test(input.tenant)) throw badInput('tenant', `tenant ${quoteInput(input.tenant)} is not a valid tenant id`);
  const { latitude, longitude, address } = input.location;
  if (!(latitude >= -90 && latitude <= 90)) throw badInput('location.latitude', `latitude must be within -90..90, got ${latitude}`);
  if (!(longitude >= -180 && longitude <= 180))
    throw badInput('location.longitude', `longitude must be within -180..180, got ${longitude}`);
  if (address && address.length > 200) throw badInput('location.address', 'address must be at most 200 characters');
  return {
    id: input.id,
    name,
    tenant: input.tenant,
    arch: input.arch,
    status: 'PROVISIONING',
    location: { lat: latitude, lon: longitude, ...(address ? { address } : {}) },
    registeredAt: new Date().toISOString(),
    nodes: {},
  };
}

/** A trimmed name or room of 1-120 characters, or undefined when not given. */
function optionalText(value: string | null | undefined, field: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (!text || text.length > 120) throw badInput(field, `${field} must be 1-120 characters`);
  return text;
}

export function isNodeAddress(address: number): boolean {
  return Number.isInteger(address) && address >= 1 && address <= 239;
}
