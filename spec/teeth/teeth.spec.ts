/**
 * Teeth: the scenario suite must catch each broken variant of the protocol.
 * A scenario that passes on a broken protocol proves nothing.
 */
import { expect } from 'chai';
import { replayCommand } from '../../cli/replay-command.ts';
import { check, scenario, sizeOf } from '../scenarios/harness.ts';
import { BROKEN } from './variants.ts';

describe('teeth: the scenarios catch broken protocols', function () {
  this.timeout(300_000);

  for (const broken of BROKEN) {
    it(`teeth: ${broken.caughtBy} catches "${broken.name}"`, () => {
      const result = check(scenario(broken.caughtBy), { variant: broken.variant, timeLimitMs: 20_000 });
      expect(result.failed, `${broken.caughtBy} did not catch "${broken.name}" in ${result.runs} runs`).to.equal(true);
      const size = sizeOf(result.counterexample!);
      const first = result.outcome?.failures[0] ?? '(no failure line)';
      console.log(`      caught after ${result.runs} run(s); shrunk counterexample: ${size.users} users, ${size.tabs} tabs, ${size.events} events, ${size.faults} faults${result.interrupted ? ' (shrinking cut at the time limit)' : ''}`);
      console.log(`      ${first}`);
      console.log(`      ${replayCommand(broken.caughtBy, result.seed, result.path ?? '0')} (on the broken variant)`);
    });
  }
});
