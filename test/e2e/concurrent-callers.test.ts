import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../platform/platform.ts';
import { tokenFor } from '../support/auth.ts';
import { graphql } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * The router's upstream requests are each caller's own: two callers asking the same thing at the
 * same moment each get the answer for themselves. (The HTTP executor under the router shares an
 * identical subgraph request in flight by default, keyed on its body alone, before the caller is
 * signed in: a tenant then got another tenant's gateway, sensors and actuators.)
 */
describe('identical queries of different callers at the same moment', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startTestPlatform({ demoGrants: false });
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("give each tenant its own answer: the other tenant's gateway stays NOT_FOUND, a shared one shows each its own", async () => {
    const [austin, city, lights] = await Promise.all([tokenFor('austin-summit'), tokenFor('pisek-city'), tokenFor('pisek-lights')]);
    const gateway = 'query ($id: ID!) { gateway(id: $id) { id sensors { id } actuators { id } } }';
    for (let round = 0; round < 5; round++) {
      const [ofAustin, ofCity] = await Promise.all([
        graphql(platform.routerUrl, gateway, { id: 'austin-gw01' }, { token: austin }),
        graphql(platform.routerUrl, gateway, { id: 'austin-gw01' }, { token: city }),
      ]);
      expect(ofAustin.data?.gateway?.id).toBe('austin-gw01');
      expect(ofCity.data?.gateway ?? null).toBeNull();
      expect(ofCity.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

      const [shownCity, shownLights] = await Promise.all([
        graphql(platform.routerUrl, gateway, { id: 'pisek-gw002' }, { token: city }),
        graphql(platform.routerUrl, gateway, { id: 'pisek-gw002' }, { token: lights }),
      ]);
      const ids = (result: typeof shownCity) => [
        ...result.data!.gateway.sensors.map((s: { id: string }) => s.id),
        ...result.data!.gateway.actuators.map((a: { id: string }) => a.id),
      ];
      // The city's rooms (nodes 3-12) and the lighting customer's poles (nodes 1-2) of the same gateway.
      expect(ids(shownCity).every((id) => Number(id.split('.')[1]) >= 3)).toBe(true);
      expect(ids(shownLights).every((id) => ['1', '2'].includes(id.split('.')[1]!))).toBe(true);
      expect(ids(shownLights).length).toBeGreaterThan(0);
    }
  });
});
