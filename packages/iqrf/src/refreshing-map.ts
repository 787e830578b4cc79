interface Entry<V> {
  value?: V;
  running?: Promise<V>;
  /** Bumped by `invalidate`: a refresh started before keeps nothing. */
  generation: number;
  stale: boolean;
}

/**
 * The newest value known per key, with at most one refresh running per key (whoever asks while
 * one runs waits on it). A refresh started before its key was invalidated or deleted keeps
 * nothing, though its result still goes to whoever waited on it; an invalidated key is `stale`
 * until a refresh started after that succeeds. How old a value may be is the caller's to judge.
 */
export class RefreshingMap<K, V> {
  private readonly entries = new Map<K, Entry<V>>();

  /** The value kept for `key`, however old. */
  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Keeps a value learnt elsewhere (another process's), leaving a running refresh and staleness as they are. */
  set(key: K, value: V): void {
    this.entryOf(key).value = value;
  }

  /** Whether `key` was invalidated and no refresh started since has succeeded. */
  isStale(key: K): boolean {
    return this.entries.get(key)?.stale ?? false;
  }

  /**
   * The running refresh of `key`, or a new one with `load`; its value is kept (and `kept` called
   * with it) unless the key was invalidated or deleted meanwhile.
   */
  refresh(key: K, load: () => Promise<V>, kept?: (value: V) => void): Promise<V> {
    const entry = this.entryOf(key);
    if (entry.running) return entry.running;
    const { generation } = entry;
    const running = load().then((value) => {
      if (entry.generation === generation && this.entries.get(key) === entry) {
        entry.value = value;
        entry.stale = false;
        kept?.(value);
      }
      return value;
    });
    entry.running = running;
    void running.catch(() => undefined).finally(() => entry.running === running && (entry.running = undefined));
    return running;
  }

  /** The value is out of date: it is kept, but `isStale` until a refresh started from now on succeeds. */
  invalidate(key: K): void {
    const entry = this.entryOf(key);
    entry.generation++;
    entry.stale = true;
    entry.running = undefined;
  }

  /** Forgets `key`: nothing of it is kept, not even what a refresh running now brings. */
  delete(key: K): void {
    const entry = this.entries.get(key);
    if (entry) entry.generation++;
    this.entries.delete(key);
  }

  private entryOf(key: K): Entry<V> {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { generation: 0, stale: false }));
    return entry;
  }
}
