import type { IqrfClient, MeshCatalog } from '#iqrf';
import type { Logger } from '#log';
import type { GatewayRegistry } from '#registry';

/**
 * A gateway's mesh changed (bonding, unbonding, discovery): forgets what the catalog cached of it
 * and tells the collectors and the other API instances to forget it too (the collectors then
 * poll the new nodes at once).
 */
export async function announceMeshChange({ catalog, iqrf }: { catalog: MeshCatalog; iqrf: IqrfClient }, gatewayId: string): Promise<void> {
  catalog.invalidate(gatewayId);
  await iqrf.announceMeshChange(gatewayId).catch(() => undefined);
}

/**
 * Follows the mesh changes other API instances announce: the catalog's next read of such a mesh
 * asks its daemon. Resolves once subscribed; the function it resolves to stops following.
 */
export async function followMeshChanges({ catalog, iqrf }: { catalog: MeshCatalog; iqrf: IqrfClient }): Promise<() => void> {
  const stop = iqrf.onMeshChange((gatewayId) => catalog.invalidate(gatewayId));
  await iqrf.followMeshChanges();
  return stop;
}

/**
 * Nodes a discovery just bonded are their gateway owner's: an address the registry still gives a
 * guest tenant (its node was unbonded outside the API, a registry restored from a backup) must not
 * hand the owner's new device, and its readings, to the guest. The stale assignment is cleared and
 * logged; a guest left with no node keeps its collector and interface until an operator runs
 * `removeGatewayTenant` (`bondNode`, which can undo, removes them in the same step).
 */
export async function releaseStaleAssignments(
  { registry, logger }: { registry: GatewayRegistry; logger: Logger },
  gatewayId: string,
  bonded: readonly number[],
): Promise<void> {
  const released: Array<{ address: number; tenant: string }> = [];
  await registry.update(gatewayId, (gateway) => {
    released.length = 0;
    const nodes = { ...gateway.nodes };
    for (const address of bonded) {
      const { tenant, ...meta } = nodes[address] ?? {};
      if (!tenant) continue;
      released.push({ address, tenant });
      if (Object.keys(meta).length) nodes[address] = meta;
      else delete nodes[address];
    }
    return released.length ? { ...gateway, nodes } : gateway;
  });
  if (released.length)
    logger.warn({ gatewayId, released }, "nodes a discovery bonded took addresses of a guest's nodes: they are the owner's");
}
