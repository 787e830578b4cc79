/**
 * Soak: the fault cases of `test/e2e/faults.test.ts` for longer and over and over. Prints the counts of
 * every case (accepted, stored, streamed, each subscriber's events against the stream's) as it
 * goes and a table at the end; exits 1 when any case lost or doubled a reading. Not a test.
 *
 *     npx tsx bench/soak.ts [--rounds 3] [--cases redis,mosquitto,carbon,collector,telemetry,router,two-collectors]
 *       [--readings-per-phase 1000] [--readings-during-outage 600] [--outage-max 15s] [--poll-interval 2s]
 *
 * Each round runs every case once, in order, on one rig (`test/support/fault-harness.ts`): Redis,
 * Mosquitto and Graphite, the collector, the telemetry subgraph and the router each in its own
 * process, the demo city's daemons and five subscribers on the stock graphql-ws client.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '#kit';
import { faultCases, formatReport, startFaultRig } from '../test/support/fault-harness.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    cases: { type: 'string', default: faultCases.map((c) => c.name.replace(/ /g, '-')).join(',') },
    'readings-per-phase': { type: 'string', default: '1000' },
    'readings-during-outage': { type: 'string', default: '600' },
    'outage-max': { type: 'string', default: '15s' },
    'poll-interval': { type: 'string', default: '2s' },
  },
});

const wanted = values.cases.split(',').map((name) => name.trim());
const cases = wanted.map((name) => {
  const found = faultCases.find((c) => c.name.replace(/ /g, '-') === name);
  if (!found) throw new Error(`unknown case ${name}; known: ${faultCases.map((c) => c.name.replace(/ /g, '-')).join(', ')}`);
  return found;
});
const outageMax = parseDuration(values['outage-max']);
if (outageMax instanceof Error) throw new Error(`--outage-max: ${outageMax.message}`);

const started = Date.now();
const rig = await startFaultRig({
  pollInterval: values['poll-interval'],
  readingsPerPhase: Number(values['readings-per-phase']),
  readingsDuringOutage: Number(values['readings-during-outage']),
  outageMaxMs: outageMax * 1000,
  conditionTimeoutMs: 120_000,
  log: (line) => console.log(line),
});
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const fault of cases) {
      await fault.prepare?.(rig);
      const report = await rig.stage(`${fault.name} #${round}`, (outage) => fault.fault(rig, outage));
      for (const problem of report.problems) console.log(`  ${problem}`);
    }
  }
} finally {
  await rig.close();
}

const failed = rig.reports.filter((r) => r.problems.length);
console.log(
  `\nsoak: ${rig.reports.length} cases in ${Math.round((Date.now() - started) / 1000)} s, ${failed.length} lost or doubled readings\n`,
);
console.log(formatReport(rig.reports));
process.exit(failed.length ? 1 : 0);
