import { readdir, readFile } from 'node:fs/promises';
import { generate } from '@graphql-codegen/cli';
import { transformSupergraphToPublicSchema } from '@theguild/federation-composition';
import { buildASTSchema, parse, print, validate, visit, type DocumentNode, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import codegenConfig, { partnerClientDir } from '../../codegen.ts';
import { runPartnerApp } from '../../examples/partner-app/partner-app.ts';
import type { Platform } from '../../platform/platform.ts';
import { adminToken } from '../support/auth.ts';
import { eventually, graphql } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

const repo = new URL('../../', import.meta.url);
const operationsDir = new URL('schema/operations/', repo);

/** The schema the router serves: the supergraph without its join__/link__ machinery. */
async function publicSchema(): Promise<GraphQLSchema> {
  const supergraph = parse(await readFile(new URL('schema/supergraph.graphql', repo), 'utf8'));
  return buildASTSchema(transformSupergraphToPublicSchema(supergraph));
}

async function partnerOperations(): Promise<Array<{ file: string; document: DocumentNode }>> {
  const files = (await readdir(operationsDir)).filter((file) => file.endsWith('.graphql')).sort();
  return Promise.all(files.map(async (file) => ({ file, document: parse(await readFile(new URL(file, operationsDir), 'utf8')) })));
}

describe('the typed partner client', () => {
  it(`${partnerClientDir} is what codegen.ts generates from schema/operations (else: npm run codegen)`, async () => {
    const client = codegenConfig.generates[partnerClientDir];
    expect(client).toBeDefined();
    const outputs: Array<{ filename: string; content: string }> = await generate(
      { ...codegenConfig, generates: { [partnerClientDir]: client! }, cwd: repo.pathname, silent: true },
      false,
    );
    expect(outputs.length).toBeGreaterThan(0);
    for (const { filename, content } of outputs) {
      expect(await readFile(new URL(filename, repo), 'utf8'), filename).toBe(content);
    }
    // No file left behind by an operation that was removed or renamed.
    const onDisk = (await readdir(new URL(partnerClientDir, repo))).map((file) => `${partnerClientDir}${file}`).sort();
    expect(onDisk).toEqual(outputs.map(({ filename }) => filename).sort());
  });

  it('has one typed document per partner operation, without the supergraph internals', async () => {
    const generated = await readFile(new URL(`${partnerClientDir}graphql.ts`, repo), 'utf8');
    const operations = await partnerOperations();
    expect(operations.length).toBeGreaterThanOrEqual(6);
    for (const { document } of operations) {
      for (const definition of document.definitions) {
        if (definition.kind !== 'OperationDefinition') continue;
        expect(definition.name, 'every partner operation has a name').toBeDefined();
        expect(generated).toContain(`export const ${definition.name!.value}Document =`);
      }
    }
    expect(generated).not.toMatch(/join__|link__/);
  });

  it('every partner operation is valid against the public schema', async () => {
    const schema = await publicSchema();
    for (const { file, document } of await partnerOperations()) {
      expect(
        validate(schema, document).map((error) => error.message),
        file,
      ).toEqual([]);
    }
  });

  it('a tampered operation is not', async () => {
    const schema = await publicSchema();
    const live = (await partnerOperations()).find(({ file }) => file === 'live-readings.graphql')!.document;
    // A field that does not exist, as after a rename in the schema.
    const renamed = visit(live, {
      Field: (node) => (node.name.value === 'cursor' ? { ...node, name: { ...node.name, value: 'position' } } : undefined),
    });
    expect(validate(schema, renamed).map((e) => e.message)).toEqual([
      expect.stringContaining('Cannot query field "position" on type "Reading"'),
    ]);
    // An argument of the wrong type.
    const mistyped = parse(print(live).replace('$after: String', '$after: Int'));
    expect(validate(schema, mistyped).map((e) => e.message)).toEqual([
      expect.stringContaining('Variable "$after" of type "Int" used in position expecting type "String"'),
    ]);
    // The supergraph's internals are not part of the API.
    const internal = parse('query Internal($graph: join__Graph) { gateways { id } }');
    expect(validate(schema, internal).map((e) => e.message)).toContainEqual(expect.stringContaining('Unknown type "join__Graph"'));
  });
});

describe('the example partner app against the platform', () => {
  let platform: Platform;
  /** An operator's: the app watches an Austin gateway and registers one for Pisek. */
  let admin: string;
  const published: Array<{ key: string; at: number }> = [];

  beforeAll(async () => {
    platform = await startTestPlatform();
    admin = await adminToken();
    platform.bus.subscribe((readings) => {
      const at = Date.now();
      for (const reading of readings)
        if (reading.gatewayId === 'austin-gw01') published.push({ key: `${reading.sensorId}@${reading.time}`, at });
    });
    await eventually(
      async () =>
        (await graphql(platform.routerUrl, '{ sensor(id: "austin-gw01.21.2") { latest { value } } }', undefined, { token: admin })).data
          ?.sensor?.latest,
    );
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('queries, registers a gateway, and resumes its subscription right behind the last cursor', async () => {
    let reconnectedAt = Infinity;
    const lines: string[] = [];
    const print = (line: string) => {
      if (line.startsWith('reconnected')) reconnectedAt = Date.now();
      lines.push(line);
    };
    const report = await runPartnerApp({
      url: platform.routerUrl,
      credentials: { token: admin },
      gatewayId: 'partner-gw01',
      readings: 10,
      print,
    });

    expect(report.overview).toMatchObject({ id: 'austin-gw01', tenant: expect.any(String), node: { name: expect.any(String) } });
    expect(report.overview.sensors?.length).toBeGreaterThan(0);
    expect(report.overview.sensors!.some((sensor) => sensor.latest !== null)).toBe(true);
    expect(report.history).toMatchObject({ quantity: 'CO2' });
    expect(report.history!.readings.length).toBeGreaterThan(0);

    expect(report.registered).toEqual({
      id: 'partner-gw01',
      name: 'Partner gateway partner-gw01',
      tenant: 'pisek-city',
      arch: 'ARM64',
      status: 'PROVISIONING',
      registeredAt: expect.any(String),
    });
    expect(
      (await graphql(platform.routerUrl, '{ gateway(id: "partner-gw01") { id } }', undefined, { token: admin })).data?.gateway,
    ).toEqual({ id: 'partner-gw01' });

    // 10 readings, a drop, graphql-ws' own retry (default settings), then 10 more from the cursor of the last one received: the
    // same readings, in the same order, as the collector published for the gateway, so nothing
    // was missed and none came twice, though those after the cursor were published while away.
    expect(lines).toContain('dropping the connection');
    const resumeIndex = report.live.findIndex((reading) => reading.cursor === report.resumedAfter);
    expect(resumeIndex, `resumed after ${report.resumedAfter}`).toBeGreaterThanOrEqual(9);
    expect(report.live.length - resumeIndex - 1).toBe(10);

    const got = report.live.map((reading) => `${reading.sensor.id}@${Date.parse(reading.time)}`);
    const start = published.findIndex(({ key }) => key === got[0]);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(got).toEqual(published.slice(start, start + got.length).map(({ key }) => key));
    expect(new Set(got).size).toBe(got.length);
    expect(new Set(report.live.map((reading) => reading.cursor)).size).toBe(got.length);
    const firstResumed = published[start + resumeIndex + 1]!;
    expect(firstResumed.at, 'the first reading after the cursor was replayed, not live').toBeLessThan(reconnectedAt);
  }, 60_000);
});
