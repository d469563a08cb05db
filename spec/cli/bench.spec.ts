/**
 * Smoke test of `wsim bench --quick`: every figure of DESIGN.md is there and is
 * a finite number (positive where it is a rate, a size or a ratio of them).
 * Performance is measured by the bench, never asserted here: no thresholds.
 */
import { expect } from 'chai';
import { formatBench, runBench, type BenchReport } from '../../cli/bench.ts';

const FIELDS = {
  sim: ['simulatedSeconds', 'wallSeconds', 'speedup', 'wallPerEventUs', 'deliveredEvents', 'eventsPerWallSecond', 'transitionsPerEvent', 'xstateTransitionsPerSecond', 'floorRatio'],
  scaling: ['costPerEventRatio'],
  swarm: ['speedup', 'coldSpeedup', 'parallelism', 'efficiency'],
  ws: ['eventsPerSecond', 'latencyP50Ms', 'latencyP99Ms', 'rawEventsPerSecond', 'ratio'],
  memory: ['bytesPerIdleSession'],
  cluster: ['nodes', 'eventsPerSecond', 'latencyP99Ms', 'ratio'],
} as const;

describe('wsim bench --quick (smoke)', function () {
  // about 50 s on two idle cores; 80–150 s measured on a loaded shared VM, where 120 s timed out
  this.timeout(300_000);
  let report: BenchReport;

  before(async () => {
    report = await runBench({ quick: true });
  });

  it('has every DESIGN.md field, each a finite positive number', () => {
    for (const [section, fields] of Object.entries(FIELDS)) {
      const figures = (report as unknown as Record<string, Record<string, unknown>>)[section]!;
      for (const field of fields) {
        const value = figures[field];
        expect(value, `${section}.${field}`).to.be.a('number');
        expect(Number.isFinite(value) && (value as number) > 0, `${section}.${field} = ${String(value)}`).to.equal(true);
      }
    }
    expect(report.sim.scenario).to.equal('sustained_load_endurance_performance');
    expect(report.scaling.sessions).to.deep.equal([10, 100, 1000]);
    for (const value of [report.peers.socketio.eventsPerSecond, report.peers.socketio.latencyP99Ms, report.peers.ratio]) {
      expect(Number.isFinite(value) && value > 0, `peers: ${value}`).to.equal(true);
    }
    for (const value of [report.cluster.socketioRedis.eventsPerSecond, report.cluster.socketioRedis.latencyP99Ms]) {
      expect(Number.isFinite(value) && value > 0, `cluster.socketioRedis: ${value}`).to.equal(true);
    }
    // heap growth may be negative (the end collected more than the warm-up)
    expect(Number.isFinite(report.memory.heapGrowth), `memory.heapGrowth = ${report.memory.heapGrowth}`).to.equal(true);
  });

  it('reports the spread of every figure and the machine it ran on', () => {
    expect(report.spread.sim.spread.wallSeconds.runs.length).to.be.greaterThan(0);
    expect(report.spread.sim.verified.deliveryOk, 'the judged sim run delivered everything once, in order').to.equal(true);
    // a short load cannot judge memory growth or drift: those are named as not judged, not failed
    expect(report.spread.sim.verified.passed, report.spread.sim.verified.failures.join('; ')).to.equal(true);
    expect(report.spread.sim.verified.notJudged.every((f) => /^(bounded_buffers|latency): /.test(f)), report.spread.sim.verified.notJudged.join('; ')).to.equal(true);
    expect(report.machine.cpus).to.be.greaterThan(0);
    expect(report.machine.node).to.match(/^v\d+/);
    expect(Number.isNaN(Date.parse(report.machine.date))).to.equal(false);
    // the specs run the TypeScript; `npm run bench` runs dist/ (spec/cli/run-cli.spec.ts)
    expect(report.machine.runtime).to.equal('tsx');
  });

  it('prints a table and a JSON object that round-trips', () => {
    expect(formatBench(report)).to.contain('speedup');
    expect(formatBench(report)).to.contain('verification passed');
    expect(formatBench(report)).to.not.contain('FAILED');
    expect(JSON.parse(JSON.stringify(report))).to.deep.equal(report);
  });
});
