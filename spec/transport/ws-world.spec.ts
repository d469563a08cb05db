/**
 * `wsim run --transport ws`: a scenario's own workload over real sockets on
 * 127.0.0.1, judged by the same oracle as in simulation.
 */
import { expect } from 'chai';
import { findScenario } from '../../sim/scenarios/index.ts';
import { runScenarioOverWs } from '../../sim/ws-world.ts';

describe('transport: scenarios over real sockets (the world with --transport ws)', function () {
  this.timeout(20_000);

  for (const id of ['mission_critical_events_delivery_guaranteed', 'connection_auto_reconnect_mechanism']) {
    it(`${id} holds over ws on loopback (seed 3)`, async () => {
      const report = await runScenarioOverWs(findScenario(id)!, { seed: 3, runs: 1 });
      const outcome = report.outcomes[0]!;
      expect(outcome.failures, outcome.failures.join('\n')).to.deep.equal([]);
      expect(outcome.verdict.metrics.expected).to.be.greaterThan(0);
      expect(outcome.verdict.metrics.delivered).to.equal(outcome.verdict.metrics.expected);
      expect(outcome.verdict.metrics.leaks).to.equal(0);
    });
  }
});
