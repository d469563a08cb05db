/**
 * Teeth: the scenario suite must catch each broken variant of the protocol
 * (sim/variants.ts). A scenario that passes on a broken protocol proves
 * nothing. Each variant is caught by the scenario that owns its weakness, and
 * every variant that loses, duplicates or reorders an event by the headline
 * scenario too. Shrunk counterexamples must stay small enough to read.
 */
import { expect } from 'chai';
import { replayCommand } from '../../cli/replay-command.ts';
import { BROKEN, HEADLINE, type Broken } from '../../sim/variants.ts';
import { check, scenario, sizeOf } from '../scenarios/harness.ts';

const sizes: { variant: string; scenario: string; events: number }[] = [];

function caughtBy(broken: Broken, id: string): void {
  const result = check(scenario(id), { variant: broken.variant, timeLimitMs: 20_000 });
  expect(result.failed, `${id} did not catch "${broken.title}" in ${result.runs} runs`).to.equal(true);
  const size = sizeOf(result.counterexample!);
  sizes.push({ variant: broken.name, scenario: id, events: size.events });
  const first = result.outcome?.failures[0] ?? '(no failure line)';
  console.log(`      caught after ${result.runs} run(s); shrunk counterexample: ${size.users} users, ${size.tabs} tabs, ${size.events} events, ${size.faults} faults${result.interrupted ? ' (shrinking cut at the time limit)' : ''}`);
  console.log(`      ${first}`);
  console.log(`      ${replayCommand(id, result.seed, result.path ?? '0', undefined, broken.name)}`);
}

describe('teeth: the scenarios catch broken protocols', function () {
  this.timeout(300_000);

  it('there are at least 16 broken variants, each with a unique name', () => {
    expect(BROKEN.length).to.be.at.least(16);
    expect(new Set(BROKEN.map((b) => b.name)).size).to.equal(BROKEN.length);
  });

  for (const broken of BROKEN) {
    it(`teeth: ${broken.caughtBy} catches "${broken.title}" (${broken.name})`, () => caughtBy(broken, broken.caughtBy));
    if (broken.corruptsDelivery && broken.caughtBy !== HEADLINE) {
      it(`teeth: ${HEADLINE} catches "${broken.title}" (${broken.name})`, () => caughtBy(broken, HEADLINE));
    }
  }

  it('shrunk counterexamples are small: median ≤ 12 events, none above 40', () => {
    const events = sizes.map((s) => s.events).sort((a, b) => a - b);
    console.log(`      shrunk sizes (events): ${sizes.map((s) => `${s.variant}@${s.scenario}=${s.events}`).join(', ')}`);
    expect(events.length).to.be.greaterThan(0);
    const median = events[Math.floor((events.length - 1) / 2)]!;
    expect(median, 'median shrunk size').to.be.at.most(12);
    expect(events.at(-1), 'largest shrunk size').to.be.at.most(40);
  });
});
