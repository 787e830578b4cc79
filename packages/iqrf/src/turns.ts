/**
 * At most `limit` tasks at once; the others wait for a turn, in order, and a finished task hands
 * its turn straight to the next in line. Daemon requests go through one: a city-wide read of a
 * cold mesh catalogue, or a group command to a street's nodes, would otherwise send them all at
 * once and time out those that wait in the broker's and the daemons' queues.
 */
export class Turns {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
