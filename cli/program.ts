/**
 * The `wsim` program: its subcommands, `--version`, and one way out for every
 * error. `runCli(argv)` returns the exit code instead of exiting, so the specs
 * run hundreds of invocations in-process:
 *
 * - 0: done (or help, version); 1: a scenario, seed or check failed;
 * - 2: bad input (a flag, a value, a file, a SIM_* variable): exactly one line
 *   on stderr, `wsim <command>: <what is wrong>`, never a stack trace.
 *
 * An unexpected exception is a bug: one line too (the stack with WSIM_DEBUG=1), exit 1.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { commands } from './commands.ts';
import { checkEnv } from './env.ts';
import { UsageError, usageLine } from './usage.ts';

/** The package's version, from the nearest package.json up from here (cli/ from source, dist/cli/ when built). */
function packageVersion(): string {
  const require = createRequire(import.meta.url);
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(up) as { name?: string; version?: string };
      if (pkg.name === 'wsim' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

export const VERSION: string = packageVersion();

/**
 * Commander's messages as one `wsim <command>:` line: "error: option '--seed
 * <n>' argument 'x' is invalid. must be …" → "--seed must be …".
 */
export function commanderLine(command: string, text: string): string {
  const message = text
    .replace(/^error: /, '')
    .replace(/^option '(-[^\s',]*)[^']*' argument '[^']*' is invalid\. /, '$1: ')
    .replace(/\s*\(Did you mean (.*)\?\)/, '; did you mean $1?');
  return usageLine(command, message);
}

export function buildProgram(state: { command: string } = { command: '' }): Command {
  const program = new Command('wsim')
    .description('deterministic simulator of the WebSocket agent-event delivery protocol')
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError(false)
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (text, write) => write(`${commanderLine('', text)}\n`) });
  for (const register of commands) register(program);
  for (const command of program.commands) {
    command.configureOutput({ outputError: (text, write) => write(`${commanderLine(command.name(), text)}\n`) });
  }
  // a bad SIM_* variable is bad input to every command
  program.hook('preAction', (_program, action) => {
    state.command = action.name();
    checkEnv(action.name());
  });
  return program;
}

/** Run `wsim ARGV...` (argv without node and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const state = { command: '' };
  const program = buildProgram(state);
  if (argv.length === 0) {
    process.stderr.write(`${usageLine('', `a command is needed: ${program.commands.map((c) => c.name()).join(', ')} (wsim --help, wsim --version)`)}\n`);
    return 2;
  }
  // commands report failure through process.exitCode; read it, then leave it as it was
  const before = process.exitCode;
  try {
    process.exitCode = undefined;
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // help and version are not errors; the line is out
    if (err instanceof UsageError) {
      process.stderr.write(`${usageLine(err.command || state.command, err.message)}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`${usageLine(state.command, `internal error: ${message} (WSIM_DEBUG=1 shows the stack)`)}\n`);
    if (process.env.WSIM_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  } finally {
    process.exitCode = before;
  }
}
