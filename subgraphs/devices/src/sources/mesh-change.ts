import type { IqrfClient, MeshCatalog } from '#iqrf';

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
