import { describe, expect, it } from 'vitest';
import { OwnedResources } from '#kit';

/** A resource that notes its closing in `log`. */
const resource = (name: string, log: string[]) => ({ name, close: () => void log.push(name) });

describe('OwnedResources.wire (each service wiring)', () => {
  it('closes what the start kept, in reverse, when a later step of the start fails', async () => {
    const log: string[] = [];
    await expect(
      OwnedResources.wire(async (owned) => {
        owned.own(resource('registry', log));
        owned.own(resource('server', log));
        throw new Error('cannot follow mesh changes');
      }),
    ).rejects.toThrow('cannot follow mesh changes');
    expect(log).toEqual(['server', 'registry']);
  });

  it('closes the service, then what it kept, once each however often kept or closed', async () => {
    const log: string[] = [];
    const service = await OwnedResources.wire(async (owned) => {
      const store = owned.own(resource('store', log));
      owned.own(store);
      return resource('subgraph', log);
    });
    expect(service.name).toBe('subgraph');
    expect(log).toEqual([]);
    await service.close();
    await service.close();
    expect(log).toEqual(['subgraph', 'store']);
  });

  it('keeps the order of a service the start kept itself, before later resources', async () => {
    const log: string[] = [];
    const service = await OwnedResources.wire(async (owned) => {
      const subgraph = owned.own(resource('subgraph', log));
      owned.own(resource('mesh-change follower', log));
      return subgraph;
    });
    await service.close();
    expect(log).toEqual(['mesh-change follower', 'subgraph']);
  });
});
