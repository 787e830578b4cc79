/**
 * What a wiring opened itself (a default it chose because none was given), closed by it in
 * reverse order; what it was given belongs to whoever gave it.
 */
export class OwnedResources {
  private readonly resources: Array<{ close(): unknown }> = [];

  /** Keeps `resource` to close, and returns it. */
  own<T extends { close(): unknown }>(resource: T): T {
    this.resources.push(resource);
    return resource;
  }

  /** Closes every resource kept, the last opened first; each is closed once. */
  async close(): Promise<void> {
    for (const resource of this.resources.splice(0).reverse()) await resource.close();
  }
}
