/**
 * One seed, one trace: the full world (hub, sessions, clients, network faults)
 * is as deterministic as the kernel, and a replay is the run it names.
 */
import { expect } from 'chai';
import { checkDeterminism } from '../../sim/determinism.ts';
import { resolveInput, runAt, runInput, runScenario } from '../../sim/scenario.ts';
import { runWorld } from '../../sim/run-driver.ts';
import { scenario } from './harness.ts';

const SCENARIOS = ['mission_critical_events_delivery_guaranteed', 'connection_failure_recovery', 'malformed_message_handling'];

describe('determinism of the world', function () {
  this.timeout(120_000);

  for (const id of SCENARIOS) {
    it(`${id}: the same seed gives the same trace, byte for byte; another seed another`, () => {
      const s = scenario(id);
      const a = runAt(s, { seed: 42, path: '0' })!;
      const b = runAt(s, { seed: 42, path: '0' })!;
      const c = runAt(s, { seed: 43, path: '0' })!;
      expect(a.traceHash).to.equal(b.traceHash);
      expect(a.result.trace.toJSONL()).to.equal(b.result.trace.toJSONL());
      expect(c.traceHash).to.not.equal(a.traceHash);
    });
  }

  it('checkDeterminism finds no difference in a faulty world run twice', () => {
    const s = scenario('connection_auto_reconnect_mechanism');
    const input = resolveInput(s, 7, '0')!;
    const verdict = checkDeterminism((seed) => runWorld({ scenario: s.id, seed, workload: input.workload, plan: input.plan, settleMs: s.settleMs }).trace, input.worldSeed);
    expect(verdict.ok, JSON.stringify(verdict)).to.equal(true);
  });

  it('a replay of run i (seed, path i) is the run `wsim run --seed` made, with the same hash', () => {
    const s = scenario('event_delivery_ordering_consistency');
    const report = runScenario(s, { seed: 42, runs: 3 });
    report.outcomes.forEach((outcome, i) => expect(runAt(s, { seed: 42, path: String(i) })!.traceHash).to.equal(outcome.traceHash));
  });

  it('the fault overrides change the run, deterministically', () => {
    const s = scenario('user_specific_event_routing');
    const input = resolveInput(s, 42, '0')!;
    const overrides = { drop: 0.3, dup: 0.25, reorder: 0.4, disconnectEveryMs: 1500 };
    const a = runInput(s, input, { seed: 42, path: '0', overrides });
    const b = runInput(s, input, { seed: 42, path: '0', overrides });
    expect(a.traceHash).to.equal(b.traceHash);
    expect(a.traceHash).to.not.equal(runInput(s, input, { seed: 42, path: '0' }).traceHash);
    expect(a.passed, a.failures.join('\n')).to.equal(true);
  });
});
