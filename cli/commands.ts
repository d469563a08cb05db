/** The subcommands, one module each; a command not built yet says so and exits 2. */
import type { Command } from 'commander';
import { register as diagram } from './diagram-command.ts';
import { register as inspect } from './inspect.ts';
import { register as replay } from './replay.ts';
import { register as run } from './run.ts';
import { register as swarm } from './swarm.ts';

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
  run,
  replay,
  swarm,
  diagram,
  inspect,
  notYet('bench', 'measure the benchmark figures'),
];
