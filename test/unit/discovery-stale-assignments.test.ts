import { describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import { FileGatewayRegistry, type GatewayRecord } from '#registry';
import { releaseStaleAssignments } from '../../subgraphs/devices/src/sources/mesh-change.ts';

const shared: GatewayRecord = {
  id: 'pisek-gw002',
  name: 'Pisek gateway 2',
  tenant: 'pisek-city',
  arch: 'ARM',
  status: 'ONLINE',
  location: { lat: 49.3, lon: 14.1 },
  registeredAt: '2026-12-01T00:00:00.000Z',
  nodes: {
    1: { name: 'router-1', tenant: 'pisek-lights', actuators: { light0: 'street light A' } },
    2: { tenant: 'pisek-lights' },
    3: { name: 'env-3', room: 'building 2 room 1' },
  },
};

describe('a discovery bonding nodes at addresses the registry still gives a guest', () => {
  it("makes them the owner's, keeping the rest of what is known of them and every other node's tenant", async () => {
    const registry = await FileGatewayRegistry.open(undefined);
    await registry.add(structuredClone(shared));
    await releaseStaleAssignments({ registry, logger: silentLogger }, shared.id, [1, 3, 7]);
    const [after] = await registry.getMany([shared.id]);
    expect(after!.nodes).toEqual({
      1: { name: 'router-1', actuators: { light0: 'street light A' } },
      2: { tenant: 'pisek-lights' },
      3: { name: 'env-3', room: 'building 2 room 1' },
    });
  });

  it('drops a node entry that held nothing but the stale tenant, and leaves an unknown gateway alone', async () => {
    const registry = await FileGatewayRegistry.open(undefined);
    await registry.add(structuredClone(shared));
    await releaseStaleAssignments({ registry, logger: silentLogger }, shared.id, [2]);
    const [after] = await registry.getMany([shared.id]);
    expect(Object.keys(after!.nodes)).toEqual(['1', '3']);
    await expect(releaseStaleAssignments({ registry, logger: silentLogger }, 'no-such-gateway', [1])).resolves.toBeUndefined();
  });
});
