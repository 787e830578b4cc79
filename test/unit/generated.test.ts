import { readFile } from 'node:fs/promises';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import codegenConfig from '../../codegen.ts';
import { composeSupergraph, supergraphTargets, subgraphs } from '#supergraph';

const repo = new URL('../../', import.meta.url);

describe('generated files are up to date', () => {
  it.each(supergraphTargets)('$file is the composition of the subgraph schemas (else: npm run compose)', async ({ file, urls }) => {
    expect(await readFile(new URL(file, repo), 'utf8')).toBe(await composeSupergraph(urls));
  });

  it('the resolver types and the partner client are what codegen.ts generates (else: npm run codegen)', async () => {
    const outputs = await generate({ ...codegenConfig, cwd: repo.pathname, silent: true }, false);
    // Four resolver files, plus the partner client (test/partner-client.test.ts checks it further).
    expect(outputs.filter(({ filename }: { filename: string }) => filename.endsWith('/resolvers.ts'))).toHaveLength(subgraphs.length);
    for (const { filename, content } of outputs) {
      expect(await readFile(new URL(filename, repo), 'utf8'), filename).toBe(content);
    }
  });
});
