/** `wsim diagram [--out DIR]`: every machine as Stately-importable JSON and Mermaid. */
import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { writeDiagrams } from './diagram.ts';
import { usage } from './options.ts';

export function register(program: Command): void {
  program
    .command('diagram')
    .description('write every machine as Stately-importable JSON and a Mermaid stateDiagram-v2')
    .option('--out <dir>', 'output folder', 'diagrams')
    .action(async (flags: { out: string }) => {
      try {
        await mkdir(flags.out, { recursive: true });
        const files = await writeDiagrams(flags.out);
        for (const file of files) process.stdout.write(`${file}\n`);
      } catch (err) {
        usage('diagram', `cannot write to ${flags.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    });
}
