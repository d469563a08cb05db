/**
 * Option parsers shared by the subcommands. A bad value is a usage error: one
 * line naming what is valid, exit 2 (commander's InvalidArgumentError, shown
 * by cli/program.ts as `wsim <command>: --flag must be …`).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { FaultOverrides } from '../sim/fault-arbitraries.ts';
import { SCENARIO_IDS } from '../sim/scenarios/index.ts';
import { findVariant, VARIANT_NAMES } from '../sim/variants.ts';
import type { ProtocolVariant } from '../sim/world.ts';
import { unknownMessage } from './usage.ts';

export { usage } from './usage.ts';

/** The largest seed: fast-check's seeds are 32-bit; one range for every command and SIM_SEED. */
export const MAX_SEED = 0x7fffffff;

export function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`must be a probability from 0 to 1, got '${value}'`);
  return n;
}

export function count(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`must be a whole number ≥ 1, got '${value}'`);
  return n;
}

export function checkSeed(value: string): { ok: true; value: number } | { ok: false; message: string } {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n > MAX_SEED) return { ok: false, message: `must be a whole number from 0 to ${MAX_SEED}, got '${value}'` };
  return { ok: true, value: n };
}

export function seed(value: string): number {
  const checked = checkSeed(value);
  if (!checked.ok) throw new InvalidArgumentError(checked.message);
  return checked.value;
}

/** A number of seconds > 0 (a duration a person chose). */
export function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a number of seconds > 0, got '${value}'`);
  return n;
}

/** A TCP port, 0 for any free one. */
export function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) throw new InvalidArgumentError(`must be a port from 0 to 65535 (0: any free port), got '${value}'`);
  return n;
}

/** A positive number (a pace, a factor). */
export function positive(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a number > 0, got '${value}'`);
  return n;
}

/** A whole number ≥ 0 (a wait in ms). */
export function whole(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`must be a whole number ≥ 0, got '${value}'`);
  return n;
}

/** A scenario id, with a did-you-mean for a near miss. */
export function scenarioId(value: string): string {
  if (SCENARIO_IDS.includes(value)) return value;
  throw new InvalidArgumentError(unknownMessage('scenario', value, SCENARIO_IDS, 'list them: wsim run --list'));
}

export function path(value: string): string {
  if (!/^\d+(:\d+)*$/.test(value)) throw new InvalidArgumentError(`must be a run number or a fast-check path like 3:0:1, got '${value}'`);
  return value;
}

export const scenarioOption = (description = 'scenario id (wsim run --list shows them)') => new Option('--scenario <id>', description).argParser(scenarioId);

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
