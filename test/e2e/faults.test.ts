import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultCases, formatReport, startFaultRig, type FaultRig } from '../support/fault-harness.ts';

/**
 * Nothing lost when any part is killed: under steady load, with subscribers on the stock
 * graphql-ws client resuming by cursor, each part (Redis, Mosquitto, carbon, the collector, the
 * telemetry subgraph, the router, one of two collectors) is killed with SIGKILL and started again,
 * one at a time. Each case checks accepted = stored = streamed, every subscriber's events = the
 * stream's for its filter, and no duplicate anywhere (`test/support/fault-harness.ts`), and prints
 * its counts. `bench/soak.ts` runs the same cases for longer.
 */
describe('nothing lost when any part is killed', () => {
  let rig: FaultRig;

  beforeAll(async () => {
    rig = await startFaultRig({ log: (line) => console.log(line) });
  }, 180_000);

  afterAll(async () => {
    if (rig?.reports.length) console.log(`\nfault cases:\n${formatReport(rig.reports)}\n`);
    await rig?.close();
  }, 60_000);

  for (const fault of faultCases) {
    it(
      fault.title,
      async () => {
        await fault.prepare?.(rig);
        const report = await rig.stage(fault.name, (outage) => fault.fault(rig, outage));
        expect(report.streamed, 'readings streamed in the case').toBeGreaterThan(0);
        expect(report.problems).toEqual([]);
      },
      150_000,
    );
  }
});
