/**
 * `wsim`: the command line. Each subcommand lives in its own file and is
 * loaded only when asked for, so `wsim run` never pays for the inspector or
 * the benchmarks. Usage errors exit 2 with one line; failed scenarios exit 1.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands.ts';

const program = new Command('wsim')
  .description('deterministic simulator of the WebSocket agent-event delivery protocol')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .showHelpAfterError(false);

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version are not errors
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  throw err;
}
