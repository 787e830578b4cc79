import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayBreakers } from '#iqrf';
import { FileGatewayRegistry, meshFileOf, type GatewayRecord, type MeshSnapshot } from '#registry';

const gateway = (id: string): GatewayRecord => ({
  id,
  name: `Gateway ${id}`,
  tenant: 'pisek-city',
  arch: 'ARM64',
  status: 'ONLINE',
  location: { lat: 49.309, lon: 14.147 },
  registeredAt: '2026-12-07T10:00:00.000Z',
  nodes: {},
});
const mesh = (observedAt: string): MeshSnapshot => ({
  incarnation: 'pisek-city|2026-12-07T10:00:00.000Z',
  topology: [
    { address: 0, parent: null },
    { address: 1, parent: 0 },
  ] as MeshSnapshot['topology'],
  bonded: [1],
  sensors: { 1: [{ type: 1, name: 'Temperature', unit: '°C' }] as MeshSnapshot['sensors'][number] },
  observedAt,
});

describe('FileGatewayRegistry', () => {
  const folders: string[] = [];
  afterEach(async () => {
    for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
  });
  const file = async () => {
    const folder = await mkdtemp(join(tmpdir(), 'registry-'));
    folders.push(folder);
    return join(folder, 'registry-demo.json');
  };

  it('keeps last known meshes beside the gateways, across restarts, and forgets them with their gateway', async () => {
    const path = await file();
    const before = await FileGatewayRegistry.open(path);
    await before.add(gateway('gw-1'));
    await before.add(gateway('gw-2'));
    await before.saveMesh('gw-1', mesh('2026-12-07T10:00:00.000Z'));
    await before.saveMesh('unknown', mesh('2026-12-07T10:00:00.000Z'));
    await before.close();
    expect(meshFileOf(path)).toBe(path.replace(/\.json$/, '.mesh.json'));

    const after = await FileGatewayRegistry.open(path);
    expect(await after.lastKnownMeshes(['gw-1', 'gw-2', 'unknown'])).toEqual([mesh('2026-12-07T10:00:00.000Z'), undefined, undefined]);
    await after.remove('gw-1');
    await after.close();
    expect(JSON.parse(await readFile(meshFileOf(path), 'utf8'))).toEqual({});
  });

  it('keeps the newer of two meshes, nothing of a gateway it does not have, and starts afresh from a broken mesh file', async () => {
    const path = await file();
    const registry = await FileGatewayRegistry.open(path);
    await registry.add(gateway('gw-1'));
    await registry.saveMesh('gw-1', mesh('2026-12-07T10:05:00.000Z'));
    await registry.saveMesh('gw-1', mesh('2026-12-07T10:00:00.000Z'));
    expect((await registry.lastKnownMeshes(['gw-1']))[0]!.observedAt).toBe('2026-12-07T10:05:00.000Z');
    await registry.close();
    await writeFile(meshFileOf(path), '{"gw-1": {"topology": "not a list"}');
    const reopened = await FileGatewayRegistry.open(path);
    expect(await reopened.list()).toHaveLength(1);
    expect(await reopened.lastKnownMeshes(['gw-1'])).toEqual([undefined]);
  });

  it('writes a burst of changes coalesced, ending with the last state', async () => {
    const path = await file();
    const registry = await FileGatewayRegistry.open(path);
    await registry.add(gateway('gw-1'));
    const times = Array.from({ length: 50 }, (_, i) => new Date(Date.UTC(2026, 11, 7, 10, 0, i)).toISOString());
    await Promise.all(times.map((time) => registry.saveMesh('gw-1', mesh(time))));
    await registry.close();
    expect(JSON.parse(await readFile(meshFileOf(path), 'utf8'))['gw-1'].observedAt).toBe(times.at(-1));
  });
});

describe('GatewayBreakers', () => {
  it('lets a request through at once when a gateway that failed silent is heard, not one that failed while heard', () => {
    let now = 10_000;
    const breakers = new GatewayBreakers({ now: () => now });
    breakers.failed('silent', true);
    breakers.failed('stuck', false);
    now = 10_500;
    expect(breakers.allows('silent', 9_000)).toBe(false);
    expect(breakers.allows('silent', 10_400)).toBe(true);
    expect(breakers.allows('stuck', 10_400)).toBe(false);
  });

  it('opens after a failure for a backoff that doubles up to its maximum, and closes on success', () => {
    let now = 0;
    const breakers = new GatewayBreakers({ minBackoffMs: 1_000, maxBackoffMs: 3_000, now: () => now });
    expect(breakers.allows('gw')).toBe(true);
    breakers.failed('gw');
    expect(breakers.allows('gw')).toBe(false);
    expect(breakers.allows('other')).toBe(true);
    now = 1_000;
    expect(breakers.allows('gw')).toBe(true);
    breakers.failed('gw');
    expect(breakers.retryAt('gw')).toBe(3_000);
    breakers.failed('gw');
    expect(breakers.retryAt('gw')).toBe(4_000);
    breakers.succeeded('gw');
    expect(breakers.allows('gw')).toBe(true);
    expect(breakers.retryAt('gw')).toBeUndefined();
  });
});
