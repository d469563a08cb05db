/** The subcommands, one module each; a command not built yet says so and exits 2. */
import type { Command } from 'commander';

export type Register = (program: Command) => void;

const notYet = (name: string, summary: string): Register => (program) => {
  program
    .command(name)
    .description(`${summary} (not built yet)`)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      process.stderr.write(`wsim ${name}: not built yet in this version of wsim\n`);
      process.exit(2);
    });
};

export const commands: Register[] = [
  notYet('run', 'run scenarios and print the report'),
  notYet('replay', 'replay one seed of one scenario as a timeline'),
  notYet('swarm', 'run many seeds in parallel'),
  notYet('diagram', 'write every machine as Stately JSON and Mermaid'),
  notYet('inspect', 'watch a run in the Stately inspector'),
  notYet('bench', 'measure the benchmark figures'),
];
