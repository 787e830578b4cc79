import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_SUBGRAPH_SECRET } from '#auth';
import type { RunningSubgraph } from '#kit';
import { silentLogger } from '#log';
import { loadOpenDataCatalog } from '#opendata-catalog';
import { DEFAULT_SUPERGRAPH_FILE, wireRouter, type RunningRouter } from '../../router/src/index.ts';
import { wireOpendata } from '../../subgraphs/opendata/src/index.ts';
import { graphql } from '../support/graphql.ts';

/** The repository's supergraph with the opendata subgraph at `url`. */
async function supergraphWithOpendataAt(url: string): Promise<string> {
  const supergraph = await readFile(DEFAULT_SUPERGRAPH_FILE, 'utf8');
  const named = /(@join__graph\(name: "opendata", url: ")[^"]*(")/;
  expect(supergraph).toMatch(named);
  return supergraph.replace(named, `$1${url}$2`);
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a standalone router (wireRouter) knows only a supergraph', () => {
  let opendata: RunningSubgraph;
  let router: RunningRouter;
  let base: string;

  beforeAll(async () => {
    opendata = await wireOpendata({
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
      trust: { secret: DEVELOPMENT_SUBGRAPH_SECRET },
      sources: { catalog: await loadOpenDataCatalog() },
    });
    router = await wireRouter({ supergraph: await supergraphWithOpendataAt(opendata.url), port: 0, logger: silentLogger });
    base = router.url.replace(/\/graphql$/, '');
  });

  afterAll(async () => {
    await router?.close();
    await opendata?.close();
  });

  it("serves /opendata/catalog.jsonld from the supergraph's opendata subgraph, with its status and headers", async () => {
    const response = await fetch(`${base}/opendata/catalog.jsonld`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/ld+json');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const catalog = (await response.json()) as Record<string, unknown>;
    expect(catalog['@context']).toBeDefined();
    expect(JSON.stringify(catalog)).toContain('dcat:Catalog');

    const head = await fetch(`${base}/opendata/catalog.jsonld`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');

    const missing = await fetch(`${base}/opendata/datasets/no-such-dataset.csv`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('admits the downloads as it does GraphQL: credentials that do not verify are 401', async () => {
    const response = await fetch(`${base}/opendata/catalog.jsonld`, { headers: { authorization: 'Bearer not-a-token' } });
    expect(response.status).toBe(401);
  });

  it('answers GraphQL from the same subgraph', async () => {
    const result = await graphql(router.url, '{ datasets { id } }');
    expect(result.errors).toBeUndefined();
    expect(result.data?.datasets.length).toBeGreaterThan(0);
  });

  it("answers 502 in the downloads' error shape when the subgraph cannot be reached, and 404 with the proxy off", async () => {
    const supergraph = await supergraphWithOpendataAt(`http://127.0.0.1:${await closedPort()}/graphql`);
    const [unreachable, off] = await Promise.all([
      wireRouter({ supergraph, port: 0, logger: silentLogger }),
      wireRouter({ supergraph, port: 0, logger: silentLogger, openDataProxy: false }),
    ]);
    try {
      const refused = await fetch(unreachable.url.replace(/\/graphql$/, '/opendata/catalog.jsonld'));
      expect(refused.status).toBe(502);
      expect(await refused.json()).toEqual({ error: { code: 'UPSTREAM_ERROR', message: expect.stringMatching(/unavailable/) } });
      expect((await fetch(off.url.replace(/\/graphql$/, '/opendata/catalog.jsonld'))).status).toBe(404);
    } finally {
      await Promise.all([unreachable.close(), off.close()]);
    }
  });
});
