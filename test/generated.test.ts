import { readFile } from 'node:fs/promises';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import codegenConfig from '../codegen.ts';
import { composeSupergraph } from '../router/src/compose.ts';
import { defaultSubgraphUrl, subgraphs, type SubgraphName } from '../subgraphs/list.ts';

const repo = new URL('../', import.meta.url);

describe('generated files are up to date', () => {
  it('schema/supergraph.graphql is the composition of the subgraph schemas (else: npm run compose)', async () => {
    const urls = Object.fromEntries(subgraphs.map(({ name, port }) => [name, defaultSubgraphUrl(port)])) as Record<SubgraphName, string>;
    const expected = await composeSupergraph(urls);
    expect(await readFile(new URL('schema/supergraph.graphql', repo), 'utf8')).toBe(expected);
  });

  it('the resolver types are what codegen.ts generates (else: npm run codegen)', async () => {
    const outputs = await generate({ ...codegenConfig, cwd: repo.pathname, silent: true }, false);
    expect(outputs).toHaveLength(subgraphs.length);
    for (const { filename, content } of outputs) {
      expect(await readFile(new URL(filename, repo), 'utf8'), filename).toBe(content);
    }
  });
});
