import { meshChangedTopics, type IqrfClient } from '#iqrf';
import type { MeshCatalog } from '#registry';

/**
 * A gateway's mesh changed (bonding, unbonding, discovery): forgets what the catalog cached of it
 * and tells the collectors and the other API instances to forget it too (the collectors then
 * poll the new nodes at once).
 */
export async function announceMeshChange({ catalog, iqrf }: { catalog: MeshCatalog; iqrf: IqrfClient }, gatewayId: string): Promise<void> {
  catalog.invalidate(gatewayId);
  await iqrf.mqttClient.publishAsync(meshChangedTopics.of(gatewayId), '', { qos: 1 }).catch(() => undefined);
}

/**
 * Follows the mesh changes other API instances announce: the catalog's next read of such a mesh
 * asks its daemon. Resolves once subscribed; the function it resolves to stops following.
 */
export async function followMeshChanges({ catalog, iqrf }: { catalog: MeshCatalog; iqrf: IqrfClient }): Promise<() => void> {
  const onMessage = (topic: string) => {
    const gatewayId = meshChangedTopics.gatewayOf(topic);
    if (gatewayId) catalog.invalidate(gatewayId);
  };
  iqrf.mqttClient.on('message', onMessage);
  await iqrf.mqttClient.subscribeAsync(meshChangedTopics.filter, { qos: 1 });
  return () => iqrf.mqttClient.off('message', onMessage);
}
