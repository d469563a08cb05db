/**
 * Usage errors: bad input from the person at the keyboard. Each becomes one
 * line on stderr, `wsim <command>: <what is wrong>`, and exit code 2; never a
 * stack trace. Commands throw `UsageError` (through `usage()`); the program in
 * cli/program.ts prints it, so a command never calls process.exit itself.
 */
import { closest, distance } from 'fastest-levenshtein';

export class UsageError extends Error {
  constructor(
    /** The subcommand ('run', 'replay', ...) or '' for the program itself. */
    readonly command: string,
    message: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A usage error found after parsing: one line, exit 2. */
export function usage(command: string, message: string): never {
  throw new UsageError(command, message);
}

/** The one line a usage error prints. */
export const usageLine = (command: string, message: string): string =>
  `${command ? `wsim ${command}` : 'wsim'}: ${message.replace(/\s*\n\s*/g, ' ').trim()}`;

/**
 * The nearest of `options` to a mistyped `value`, when it is near enough to
 * be what was meant (at most a third of its letters wrong), else undefined.
 */
export function suggest(value: string, options: readonly string[]): string | undefined {
  if (options.length === 0) return undefined;
  const lower = value.toLowerCase();
  const prefixed = options.filter((o) => o.startsWith(lower) || lower.startsWith(o));
  if (prefixed.length === 1) return prefixed[0];
  const best = closest(lower, options as string[]);
  return distance(lower, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/** "unknown X 'v'" with a did-you-mean, or where to find the valid ones, in one short line. */
export function unknownMessage(what: string, value: string, options: readonly string[], listHint: string): string {
  const guess = suggest(value, options);
  return `unknown ${what} '${value}'${guess ? `; did you mean '${guess}'?` : ''} (${listHint})`;
}
