/**
 * Option parsers shared by the subcommands. A bad value is a usage error: one
 * line naming what is valid, exit 2 (commander's InvalidArgumentError).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { FaultOverrides } from '../sim/fault-arbitraries.ts';
import { SCENARIO_IDS } from '../sim/scenarios/index.ts';
import { findVariant, VARIANT_NAMES } from '../sim/variants.ts';
import type { ProtocolVariant } from '../sim/world.ts';

export function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`must be a probability between 0 and 1, got "${value}"`);
  return n;
}

export function count(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`must be a whole number ≥ 1, got "${value}"`);
  return n;
}

export function seed(value: string): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new InvalidArgumentError(`must be a 32-bit integer, got "${value}"`);
  return n;
}

export function path(value: string): string {
  if (!/^\d+(:\d+)*$/.test(value)) throw new InvalidArgumentError(`must be a fast-check path like 3:0:1, got "${value}"`);
  return value;
}

export const scenarioOption = () => new Option('--scenario <id>', 'scenario id').choices(SCENARIO_IDS as string[]);

/** `--variant NAME`: run a broken protocol variant (the list: `wsim variants`). */
export const variantOption = () => new Option('--variant <name>', 'run a broken protocol variant (see wsim variants)').choices(VARIANT_NAMES);

/** The protocol of a named variant, as run options (nothing when none was named). */
export const variantOf = (name: string | undefined): { variant?: ProtocolVariant } => (name ? { variant: findVariant(name)!.variant } : {});

/** The fault overrides of DESIGN.md: laid over a scenario's plan; the invariants must still hold. */
export function addFaultFlags(command: Command): Command {
  return command
    .option('--drop <p>', 'drop probability per frame', probability)
    .option('--dup <p>', 'duplicate probability per frame', probability)
    .option('--reorder <p>', 'reorder probability per frame', probability)
    .option('--disconnect-every <ms>', 'close one random link every MS of simulated time', count);
}

export interface FaultFlags {
  drop?: number;
  dup?: number;
  reorder?: number;
  disconnectEvery?: number;
}

export function overridesOf(flags: FaultFlags): FaultOverrides | undefined {
  const o: FaultOverrides = {
    ...(flags.drop !== undefined ? { drop: flags.drop } : {}),
    ...(flags.dup !== undefined ? { dup: flags.dup } : {}),
    ...(flags.reorder !== undefined ? { reorder: flags.reorder } : {}),
    ...(flags.disconnectEvery !== undefined ? { disconnectEveryMs: flags.disconnectEvery } : {}),
  };
  return Object.keys(o).length > 0 ? o : undefined;
}

/** A usage error found after parsing: one line, exit 2. */
export function usage(command: string, message: string): never {
  process.stderr.write(`wsim ${command}: ${message}\n`);
  process.exit(2);
}
