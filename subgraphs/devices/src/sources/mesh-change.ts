import { meshChangedTopics, type IqrfClient } from '#iqrf';
import type { MeshCatalog } from '#registry';

/**
 * A gateway's mesh changed (bonding, unbonding, discovery): forgets what the catalog cached of it
 * and tells the collectors to forget it too (they then poll the new nodes at once).
 */
export async function announceMeshChange({ catalog, iqrf }: { catalog: MeshCatalog; iqrf: IqrfClient }, gatewayId: string): Promise<void> {
  catalog.invalidate(gatewayId);
  await iqrf.mqttClient.publishAsync(meshChangedTopics.of(gatewayId), '', { qos: 1 }).catch(() => undefined);
}
