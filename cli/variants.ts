/**
 * `wsim variants`: the broken protocol variants (the teeth), each with the
 * scenario that must catch it. Run one with `wsim run --variant NAME
 * --scenario ID` and read its failing timeline with `wsim replay`.
 */
import type { Command } from 'commander';
import { BROKEN, HEADLINE } from '../sim/variants.ts';

export function register(program: Command): void {
  program
    .command('variants')
    .description('list the broken protocol variants and the scenario that must catch each (run one with --variant NAME)')
    .option('--json', 'print one JSON array [{"name","scenario"}]')
    .action((flags: { json?: boolean }) => {
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(BROKEN.map((b) => ({ name: b.name, scenario: b.caughtBy })), null, 2)}\n`);
        return;
      }
      const width = Math.max(...BROKEN.map((b) => b.name.length));
      const lines = BROKEN.map((b) => `${b.name.padEnd(width)}  ${b.caughtBy}${b.corruptsDelivery && b.caughtBy !== HEADLINE ? ` (and ${HEADLINE})` : ''}\n${' '.repeat(width + 2)}${b.title}`);
      process.stdout.write(`${lines.join('\n')}\n\nrun one: wsim run --variant NAME --scenario SCENARIO (exits 1: the scenario catches it)\n`);
    });
}
