import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { Scope, type Caller } from '#auth';
import type { ObservedMesh, TopologyDevice } from '#iqrf';
import type { GatewayRecord } from '#registry';
import { createDevicesContext, type DevicesServices, type DevicesSources } from '../../subgraphs/devices/src/context.ts';
import { indexMesh } from '../../subgraphs/devices/src/loaders.ts';
import { resolvers, typeDefs } from '../../subgraphs/devices/src/schema.ts';

// A multi-hop mesh, listed out of order as a daemon may: 1 -> 2 -> 3 -> 7 and 4 -> 5 (6 is not bonded).
//
//   0 ─ 1 ─ 2 ─ 3 ─ 7
//   └── 4 ─ 5
const topology: TopologyDevice[] = [
  { address: 5, vrn: 5, zone: 2, parent: 4 },
  { address: 0, vrn: 0, zone: 0, parent: null },
  { address: 3, vrn: 3, zone: 3, parent: 2 },
  { address: 1, vrn: 1, zone: 1, parent: 0 },
  { address: 7, vrn: 7, zone: 4, parent: 3 },
  { address: 2, vrn: 2, zone: 2, parent: 1 },
  { address: 4, vrn: 4, zone: 1, parent: 0 },
];
const expected = [
  { address: 1, parent: 0, hops: 1 },
  { address: 2, parent: 1, hops: 2 },
  { address: 3, parent: 2, hops: 3 },
  { address: 4, parent: 0, hops: 1 },
  { address: 5, parent: 4, hops: 2 },
  { address: 7, parent: 3, hops: 4 },
];

describe('indexMesh', () => {
  it('gives each node its parent and hops to the coordinator, by address', () => {
    const index = indexMesh('gw', topology);
    expect(index.bonded).toEqual(expected.map((node) => ({ gatewayId: 'gw', ...node })));
    expect(index.byAddress.get(0)).toEqual({ gatewayId: 'gw', address: 0, parent: null, hops: 0 });
    expect(index.byAddress.get(7)?.hops).toBe(4);
    expect(index.byAddress.get(6)).toBeUndefined();
  });

  it('counts a node whose parent the topology lacks as one hop, and bounds a cycle instead of hanging', () => {
    const index = indexMesh('gw', [
      { address: 0, vrn: 0, zone: 0, parent: null },
      { address: 8, vrn: 8, zone: 1, parent: 9 },
      { address: 9, vrn: 9, zone: 1, parent: 8 },
      { address: 10, vrn: 10, zone: 1, parent: 42 },
    ]);
    expect(index.byAddress.get(8)?.hops).toBe(241);
    expect(index.byAddress.get(10)).toMatchObject({ parent: 42, hops: 1 });
  });

  it('keeps the first of two entries for one address', () => {
    const index = indexMesh('gw', [
      { address: 0, vrn: 0, zone: 0, parent: null },
      { address: 1, vrn: 1, zone: 1, parent: 0 },
      { address: 1, vrn: 1, zone: 1, parent: 5 },
    ]);
    expect(index.byAddress.get(1)?.parent).toBe(0);
    expect(index.bonded).toHaveLength(2);
  });
});

describe('MeshNode parent and hops through the devices schema (no services)', () => {
  const record: GatewayRecord = {
    id: 'gw',
    name: 'Test gateway',
    tenant: 'acme',
    arch: 'ARM64',
    status: 'ONLINE',
    location: { lat: 49.3, lon: 14.1 },
    registeredAt: '2026-01-01T00:00:00.000Z',
    nodes: {},
  };
  const sensor = { id: 'TEMP', type: 1, name: 'Temperature', unit: '°C', decimalPlaces: 1, frcs: [144] };
  const mesh: ObservedMesh = {
    incarnation: 'acme|2026-01-01T00:00:00.000Z',
    topology,
    bonded: expected.map((node) => node.address),
    sensors: { 5: [sensor], 7: [sensor] },
    observedAt: '2026-01-01T00:00:00.000Z',
    freshness: 'LIVE',
  };
  let meshReads = 0;
  const sources = {
    registry: { getMany: async (ids: readonly string[]) => ids.map((id) => (id === record.id ? record : undefined)) },
    catalog: {
      mesh: async () => {
        meshReads++;
        return mesh;
      },
    },
    openSensorIds: new Set<string>(),
  } as unknown as DevicesSources;
  const caller: Caller = { kind: 'user', subject: 'test', tenant: 'acme', scopes: [Scope.DEVICES_READ] };
  const schema = buildSubgraphSchema({ typeDefs, resolvers });
  const run = async (query: string) => {
    const result = await execute({
      schema,
      document: parse(query),
      contextValue: createDevicesContext(sources, {} as DevicesServices, caller),
    });
    expect(result.errors).toBeUndefined();
    return result.data as Record<string, unknown>;
  };

  it('answers every node, its parent and its parent`s parent with the hops of the topology, from one mesh read', async () => {
    meshReads = 0;
    const data = await run(`{
      gateway(id: "gw") {
        mesh {
          size
          coordinator { address hops parent { address } }
          nodes { address hops parent { address hops parent { address hops } } }
        }
      }
    }`);
    const hopsOf = new Map([[0, 0], ...expected.map((node): [number, number] => [node.address, node.hops])]);
    const parentOf = new Map(expected.map((node) => [node.address, node.parent]));
    const described = (address: number | null | undefined): unknown =>
      address === null || address === undefined ? null : { address, hops: hopsOf.get(address) };
    expect(data).toEqual({
      gateway: {
        mesh: {
          size: 6,
          coordinator: { address: 0, hops: 0, parent: null },
          nodes: expected.map((node) => ({
            address: node.address,
            hops: node.hops,
            parent: {
              ...(described(node.parent) as object),
              parent: described(node.parent === 0 ? null : parentOf.get(node.parent)),
            },
          })),
        },
      },
    });
    expect(meshReads).toBe(1);
  });

  it("resolves a sensor's node and a MeshNode reference to the same parent and hops", async () => {
    const data = await run(`{
      gateway(id: "gw") { sensors { id node { address hops parent { address hops } } } }
      _entities(representations: [{ __typename: "MeshNode", id: "gw.7" }, { __typename: "MeshNode", id: "gw.6" }]) {
        ... on MeshNode { address hops parent { address hops } }
      }
    }`);
    expect(data).toEqual({
      gateway: {
        sensors: [
          { id: 'gw.5.0', node: { address: 5, hops: 2, parent: { address: 4, hops: 1 } } },
          { id: 'gw.7.0', node: { address: 7, hops: 4, parent: { address: 3, hops: 3 } } },
        ],
      },
      _entities: [{ address: 7, hops: 4, parent: { address: 3, hops: 3 } }, null],
    });
  });
});
