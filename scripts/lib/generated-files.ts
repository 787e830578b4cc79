import { readFile, writeFile } from 'node:fs/promises';

/** A file the repository keeps generated, and what it must hold. */
export interface GeneratedFile {
  /** What the messages call it (a path from the repository root). */
  name: string;
  file: URL;
  content: () => Promise<string>;
}

/**
 * Writes each generated file whose content changed, or with `--check` in the arguments only
 * compares, saying which file is stale and the command (`rerun`) that writes it, and exits 1.
 */
export async function writeGeneratedFiles(files: readonly GeneratedFile[], rerun: string): Promise<void> {
  const check = process.argv.includes('--check');
  let stale = false;
  for (const { name, file, content } of files) {
    const wanted = await content();
    if ((await readFile(file, 'utf8').catch(() => '')) === wanted) continue;
    if (check) {
      stale = true;
      process.stderr.write(`${name} is stale: run \`${rerun}\`\n`);
    } else {
      await writeFile(file, wanted);
      process.stdout.write(`wrote ${name}\n`);
    }
  }
  if (stale) process.exit(1);
}

/** Runs a script's `main`, printing only the message of what it throws, and exits 1 then. */
export function runScript(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
