/** The subcommands, one module each. */
import type { Command } from 'commander';
import { register as bench } from './bench.ts';
import { register as diagram } from './diagram-command.ts';
import { register as inspect } from './inspect.ts';
import { register as replay } from './replay.ts';
import { register as run } from './run.ts';
import { register as serve } from './serve.ts';
import { register as swarm } from './swarm.ts';
import { register as variants } from './variants.ts';

export type Register = (program: Command) => void;

export const commands: Register[] = [
  run,
  replay,
  swarm,
  diagram,
  inspect,
  bench,
  serve,
  variants,
];
