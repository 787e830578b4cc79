/**
 * What a wiring opened itself (a default it chose because none was given), closed by it in
 * reverse order; what it was given belongs to whoever gave it.
 */
export class OwnedResources {
  private readonly resources: Array<{ close(): unknown }> = [];

  /** Keeps `resource` to close (once, however often it is kept), and returns it. */
  own<T extends { close(): unknown }>(resource: T): T {
    if (!this.resources.includes(resource)) this.resources.push(resource);
    return resource;
  }

  /**
   * Runs a wiring's `start` with what it opens kept here: when `start` throws, whatever it kept so
   * far is closed; closing the service it returns closes everything kept, the service included,
   * in reverse order of keeping (the service last kept unless `start` kept it earlier itself).
   */
  static async wire<T extends { close(): unknown }>(start: (owned: OwnedResources) => Promise<T>): Promise<T> {
    const owned = new OwnedResources();
    try {
      const service = owned.own(await start(owned));
      return { ...service, close: () => owned.close() };
    } catch (error) {
      await owned.close();
      throw error;
    }
  }

  /** Closes every resource kept, the last opened first; each is closed once. */
  async close(): Promise<void> {
    for (const resource of this.resources.splice(0).reverse()) await resource.close();
  }
}
