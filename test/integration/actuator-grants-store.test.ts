import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import {
  FileActuatorGrantStore,
  RedisActuatorGrantStore,
  type ActuatorGrantStore,
  type ActuatorInfo,
  type NewActuatorGrant,
} from '#registry';
import { RedisActuatorRateLimit } from '../../subgraphs/devices/src/sources/actuator-rate-limit.ts';
import { tempDir } from '../support/services/process.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

/** Every `ActuatorGrantStore` keeps, finds and forgets grants alike: memory, the JSON file, and a real Redis. */
let redis: RedisService;
const disposals: Array<() => Promise<unknown>> = [];
let stores = 0;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const dispose of disposals.reverse()) await dispose().catch(() => {});
  await redis?.stop();
});

const light = (gatewayId: string, address: number, index: number, tenant: string, room?: string): ActuatorInfo => ({
  id: `${gatewayId}.${address}.light${index}`,
  gatewayId,
  tenant,
  address,
  kind: 'LIGHT',
  index,
  name: `light ${index}`,
  ...(room ? { room } : {}),
});
const relay = (gatewayId: string, address: number, tenant: string): ActuatorInfo => ({
  id: `${gatewayId}.${address}.output0`,
  gatewayId,
  tenant,
  address,
  kind: 'BINARY_OUTPUT',
  index: 0,
  name: 'relay',
});

const partner = { kind: 'API_KEY', id: 'street-works' } as const;
const alice = { kind: 'USER', id: 'alice' } as const;

const backends: Array<[string, () => Promise<ActuatorGrantStore>]> = [
  ['memory', () => FileActuatorGrantStore.open()],
  ['JSON file', async () => FileActuatorGrantStore.open(join(await tempDir('grants'), 'registry.grants.json'))],
  ['Redis', async () => new RedisActuatorGrantStore({ url: redis.url, logger: silentLogger, key: `test:grants:${++stores}` })],
];

describe.each(backends)('%s actuator grants', (_name, open) => {
  const opened = async () => {
    const store = await open();
    disposals.push(() => store.close());
    return store;
  };
  const grant = (store: ActuatorGrantStore, what: Partial<NewActuatorGrant>) =>
    store.grant({ tenant: 'pisek-lights', grantee: partner, grantedBy: 'lights-admin', ...what });

  it('grants, finds and lists by tenant and by grantee', async () => {
    const store = await opened();
    const street = await grant(store, { gatewayId: 'pisek-gw002', kind: 'LIGHT' });
    const listed = await grant(store, { grantee: alice, actuatorIds: ['pisek-gw003.1.light0'] });
    const city = await grant(store, { tenant: 'pisek-city', grantee: alice, gatewayId: 'pisek-gw001' });
    expect(street.id).not.toBe(listed.id);
    expect(Date.parse(street.grantedAt)).not.toBeNaN();
    expect(await store.get(street.id)).toEqual(street);
    expect(await store.get('grant-none')).toBeUndefined();
    expect((await store.listByTenant('pisek-lights')).map((g) => g.id).sort()).toEqual([street.id, listed.id].sort());
    expect((await store.listByTenant()).map((g) => g.id).sort()).toEqual([street.id, listed.id, city.id].sort());
    expect(await store.listByTenant('nobody')).toEqual([]);
    expect((await store.listByGrantee(alice)).map((g) => g.id).sort()).toEqual([listed.id, city.id].sort());
    expect(await store.listByGrantee({ kind: 'USER', id: 'street-works' })).toEqual([]);
  });

  it("matches a grantee's grants to an actuator: selection and the actuator's tenant now", async () => {
    const store = await opened();
    const street = await grant(store, { gatewayId: 'pisek-gw002', kind: 'LIGHT' });
    await grant(store, { gatewayId: 'pisek-gw004', room: 'Kollarova' });
    const lit = light('pisek-gw002', 4, 1, 'pisek-lights');
    expect((await store.matching(partner, lit)).map((g) => g.id)).toEqual([street.id]);
    // Another kind, another gateway, another grantee: none.
    expect(await store.matching(partner, relay('pisek-gw002', 4, 'pisek-lights'))).toEqual([]);
    expect(await store.matching(partner, light('pisek-gw003', 4, 1, 'pisek-lights'))).toEqual([]);
    expect(await store.matching(alice, lit)).toEqual([]);
    // The node went to another tenant: the grant of pisek-lights no longer covers it.
    expect(await store.matching(partner, light('pisek-gw002', 4, 1, 'pisek-city'))).toEqual([]);
    // A room narrows the gateway.
    expect(await store.matching(partner, light('pisek-gw004', 7, 0, 'pisek-lights', 'Kollarova'))).toHaveLength(1);
    expect(await store.matching(partner, light('pisek-gw004', 7, 0, 'pisek-lights', 'Zizkova'))).toEqual([]);
  });

  it('revokes at once, once; the grant is gone from every list', async () => {
    const store = await opened();
    const street = await grant(store, { gatewayId: 'pisek-gw002' });
    const kept = await grant(store, { actuatorIds: ['pisek-gw002.5.light0'] });
    expect((await store.revoke(street.id))?.id).toBe(street.id);
    expect(await store.revoke(street.id)).toBeUndefined();
    expect(await store.get(street.id)).toBeUndefined();
    expect((await store.listByGrantee(partner)).map((g) => g.id)).toEqual([kept.id]);
    expect((await store.listByTenant('pisek-lights')).map((g) => g.id)).toEqual([kept.id]);
    expect(await store.matching(partner, light('pisek-gw002', 4, 0, 'pisek-lights'))).toEqual([]);
    expect(await store.matching(partner, light('pisek-gw002', 5, 0, 'pisek-lights'))).toHaveLength(1);
  });
});

describe('durable grants', () => {
  it('the JSON file keeps grants and revocations across a reopen', async () => {
    const path = join(await tempDir('grants'), 'registry.grants.json');
    const first = await FileActuatorGrantStore.open(path);
    const kept = await first.grant({ tenant: 'acme', grantee: alice, gatewayId: 'acme-gw', grantedBy: 'boss' });
    const gone = await first.grant({ tenant: 'acme', grantee: partner, gatewayId: 'acme-gw', grantedBy: 'boss' });
    await first.revoke(gone.id);
    await first.close();
    const second = await FileActuatorGrantStore.open(path);
    expect(await second.listByTenant()).toEqual([kept]);
    await second.close();
  });

  it('two Redis stores (two API instances) see a revocation by the other at once', async () => {
    const key = `test:grants:${++stores}`;
    const a = new RedisActuatorGrantStore({ url: redis.url, logger: silentLogger, key });
    const b = new RedisActuatorGrantStore({ url: redis.url, logger: silentLogger, key });
    disposals.push(
      () => a.close(),
      () => b.close(),
    );
    const granted = await a.grant({ tenant: 'acme', grantee: partner, gatewayId: 'acme-gw', grantedBy: 'boss' });
    const lit = light('acme-gw', 3, 0, 'acme');
    expect(await b.matching(partner, lit)).toHaveLength(1);
    expect((await b.revoke(granted.id))?.id).toBe(granted.id);
    expect(await a.matching(partner, lit)).toEqual([]);
    expect(await a.listByGrantee(partner)).toEqual([]);
  });
});

describe('Redis actuator rate limit', () => {
  it('two devices instances share one bucket per actuator', async () => {
    const settings = { burst: 3, intervalMs: 60_000 };
    const prefix = `test:rate:${++stores}:`;
    const a = new RedisActuatorRateLimit({ url: redis.url, logger: silentLogger, settings, prefix });
    const b = new RedisActuatorRateLimit({ url: redis.url, logger: silentLogger, settings, prefix });
    disposals.push(
      () => a.close(),
      () => b.close(),
    );
    expect(await a.take('gw.1.output0')).toBeUndefined();
    expect(await b.take('gw.1.output0')).toBeUndefined();
    expect(await a.take('gw.1.output0')).toBeUndefined();
    const wait = await b.take('gw.1.output0');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60_000);
    // Another actuator has its own bucket.
    expect(await b.take('gw.1.output1')).toBeUndefined();
  });
});
