import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { findScenario, SCENARIOS } from '../../sim/scenarios/index.ts';
import { runInput } from '../../sim/scenario.ts';
import { swarm } from '../../cli/swarm.ts';
import { writeFailureFile, type FailureFile } from '../../cli/swarm-failure-file.ts';
import { mergeReports, parseReport, type SwarmReport } from '../../cli/swarm-report.ts';
import { countSeeds, parseShard, shardSeeds } from '../../cli/swarm-shard.ts';
import { runSeed, scenarioForSeed, swarmInput, swarmTransform, CAPS, type SwarmResult } from '../../cli/swarm-seed.ts';

const CHEAP = 'mission_critical_events_delivery_guaranteed';

/** `wsim swarm ARGS` as a process (the real CLI entry). */
function wsim(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'swarm', ...args], { encoding: 'utf8', cwd: process.cwd() }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ status: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

const compact = (rs: SwarmResult[]) => rs.map((r) => ({ scenario: r.scenario, seed: r.seed, passed: r.passed, traceHash: r.traceHash }));

describe('cli/swarm', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wsim-swarm-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('seeds and shards', () => {
    it('parses I/N and refuses anything else', () => {
      expect(parseShard('2/3')).to.deep.equal({ ok: true, value: { index: 2, count: 3 } });
      for (const [seed, runs, index, count] of [[0, 10, 1, 1], [42, 17, 2, 3], [5, 1, 1, 4], [7, 0, 1, 2], [100, 999, 4, 4], [1, 13, 3, 5]] as const) {
        expect(countSeeds(seed, runs, { index, count }), `${seed}+${runs} ${index}/${count}`).to.equal(shardSeeds(seed, runs, { index, count }).length);
      }
      for (const bad of ['0/2', '3/2', '1', '1/0', 'a/b', '1/2/3', '-1/2']) expect(parseShard(bad).ok, bad).to.equal(false);
    });

    it('slices are disjoint and together are the whole seed range', () => {
      const whole = shardSeeds(10, 23);
      const slices = [1, 2, 3].map((index) => shardSeeds(10, 23, { index, count: 3 }));
      expect(slices.flat().sort((a, b) => a - b)).to.deep.equal(whole);
      expect(new Set(slices.flat()).size).to.equal(whole.length);
      expect(slices[0]).to.deep.equal([12, 15, 18, 21, 24, 27, 30]);
    });

    it('seed j runs scenario j mod (number of scenarios) round-robin, or the one asked for', () => {
      expect(scenarioForSeed(0)).to.equal(CHEAP);
      expect(scenarioForSeed(SCENARIOS.length)).to.equal(CHEAP);
      expect(scenarioForSeed(SCENARIOS.length + 1)).to.equal('event_delivery_ordering_consistency');
      expect(scenarioForSeed(7, 'connection_timeout_handling')).to.equal('connection_timeout_handling');
    });
  });

  describe('the fault vector', () => {
    const scenario = findScenario(CHEAP)!;

    it('is a pure function of the seed, switches kinds off and keeps probabilities under their caps', () => {
      let off = 0;
      for (let seed = 0; seed < 40; seed++) {
        const a = swarmInput(scenario, seed);
        expect(swarmInput(scenario, seed)).to.deep.equal(a);
        for (const kind of ['drop', 'dup', 'reorder', 'corrupt'] as const) {
          const k = a.transform[kind];
          expect(a.input.plan[kind]).to.equal(k.to);
          expect(k.to).to.be.at.most(Math.max(CAPS[kind], k.from));
          if (!k.on) {
            off++;
            expect(k.to).to.equal(0);
          }
        }
      }
      expect(off).to.be.greaterThan(0);
    });

    it('a transformed plan is judged as under overrides: delivery and safety, while waste and latency are reported only', () => {
      // seed 145 escalates the drop rate to 0.24: 101 retransmissions for 44 events, over the nominal plan's waste bound
      const { input } = swarmInput(scenario, 145);
      const nominal = runInput(scenario, input, { seed: 145 });
      expect(nominal.failures.join('\n')).to.match(/^waste: /m);
      const swarmed = runSeed({ scenario: CHEAP, seed: 145 });
      expect([swarmed.passed, swarmed.traceHash, swarmed.metrics.deliveryRate]).to.deep.equal([true, nominal.traceHash, 1]);
    });

    it('adds nothing to a scenario that judges performance, but may to one that does not', () => {
      const input = swarmInput(scenario, 1).input;
      const calm = { ...input, plan: { ...input.plan, partitions: [], disconnect: { at: [] } } };
      const added = (escalate: boolean) => Array.from({ length: 40 }, (_, seed) => swarmTransform(calm, seed, escalate).input.plan).filter((p) => p.partitions.length > 0 || p.disconnect.everyMs !== undefined).length;
      expect(added(false)).to.equal(0);
      expect(added(true)).to.be.greaterThan(0);
    });
  });

  describe('running', () => {
    const seeds = { seed: 100, runs: 6, scenario: CHEAP };
    /** Everything a seed's result says but its time. */
    const outcome = (rs: SwarmResult[]) => rs.map(({ ms: _, ...r }) => r);
    let whole: SwarmResult[];
    let single: SwarmResult[];
    let halves: SwarmResult[][];

    before(async function () {
      this.timeout(60_000);
      whole = (await swarm({ ...seeds, workers: 2, shard: { index: 1, count: 1 }, out: join(dir, 'whole') })).results;
      single = (await swarm({ ...seeds, workers: 1, shard: { index: 1, count: 1 }, out: join(dir, 'single') })).results;
      halves = await Promise.all([1, 2].map(async (index) => (await swarm({ ...seeds, workers: 1, shard: { index, count: 2 }, out: join(dir, `half${index}`) })).results));
    });

    it('two workers give exactly what one gives: the same seeds in the same order, each with the same outcome', () => {
      expect(whole.map((r) => r.seed)).to.deep.equal([100, 101, 102, 103, 104, 105]);
      expect(outcome(whole)).to.deep.equal(outcome(single));
    });

    it('two halves of a shard split are disjoint and together equal the unsharded run (seeds, verdicts, trace hashes)', () => {
      const [a, b] = halves as [SwarmResult[], SwarmResult[]];
      expect(a.map((r) => r.seed)).to.deep.equal([100, 102, 104]);
      expect(b.map((r) => r.seed)).to.deep.equal([101, 103, 105]);
      const joined = [...a, ...b].sort((x, y) => x.seed - y.seed);
      expect(new Set(joined.map((r) => r.seed)).size).to.equal(joined.length);
      expect(compact(joined)).to.deep.equal(compact(whole));
      for (const r of whole) expect(r.traceHash).to.match(/^[0-9a-f]{64}$/);
    });

    it('a worker gives the same outcome as an in-process run of the same seed', () => {
      expect(outcome(whole.slice(0, 3))).to.deep.equal(outcome(whole.slice(0, 3).map((r) => runSeed({ scenario: r.scenario, seed: r.seed }))));
    });
  });

  describe('failure files', () => {
    const scenario = findScenario(CHEAP)!;
    const seed = 7;
    const fake = (): SwarmResult & { detail: NonNullable<SwarmResult['detail']> } => {
      const real = runSeed({ scenario: CHEAP, seed });
      return { ...real, passed: false, failures: ['delivery rate 0.9 < 1 (3 lost)', 'made up for the spec'], detail: swarmInput(scenario, seed) };
    };

    it('holds scenario, seed, transform, input, failures and the replay command, and its input replays the run', async () => {
      const r = fake();
      const out = join(dir, 'failures');
      const { path } = await writeFailureFile(out, r);
      expect(path).to.equal(join(out, `${CHEAP}-${seed}.json`));
      expect(readdirSync(out)).to.deep.equal([`${CHEAP}-${seed}.json`]);
      const file = JSON.parse(readFileSync(path, 'utf8')) as FailureFile;
      expect(file).to.include({ version: 1, scenario: CHEAP, seed, traceHash: r.traceHash });
      expect(file.failures).to.deep.equal(r.failures);
      expect(file.replay).to.equal(`npm run replay -- --failure ${path}`);
      expect(file.scenarioReplay).to.equal(`npm run replay -- --scenario ${CHEAP} --seed ${seed} --path 0`);
      expect(file.transform.text).to.contain('drop=');
      expect(Object.keys(file.input).sort()).to.deep.equal(['plan', 'workload', 'worldSeed']);
      // what `replay --failure` will do: the same run, byte for byte
      expect(runInput(scenario, file.input, { seed: file.seed }).traceHash).to.equal(r.traceHash);
    });

    it('is written atomically: replaced whole, and no temp file is left when the write fails', async () => {
      const out = join(dir, 'atomic');
      await writeFailureFile(out, fake());
      const second = { ...fake(), failures: ['second'] };
      await writeFailureFile(out, second);
      expect((JSON.parse(readFileSync(join(out, `${CHEAP}-${seed}.json`), 'utf8')) as FailureFile).failures).to.deep.equal(['second']);
      // a directory where the file should go: the rename fails
      const blocked = join(dir, 'blocked');
      mkdirSync(join(blocked, `${CHEAP}-${seed}.json`), { recursive: true });
      let failed = false;
      await writeFailureFile(blocked, fake()).catch(() => (failed = true));
      expect(failed).to.equal(true);
      expect(readdirSync(blocked)).to.deep.equal([`${CHEAP}-${seed}.json`]);
      expect(readdirSync(out)).to.deep.equal([`${CHEAP}-${seed}.json`]);
    });
  });

  describe('merge', () => {
    const report = (index: number, count: number, runs: number, passed: number, failures: SwarmReport['failures'] = []): SwarmReport => ({
      runs, passed, failures, shard: { index, count, seed: 0, runs: 10, scenario: null }, seedsPerSecond: 5, workers: 2,
    });
    const failure = (seed: number) => ({ scenario: scenarioForSeed(seed), seed, failures: ['x'], replay: 'r', file: null });

    it('sums runs, passed, rates and workers and concatenates failures in seed order', () => {
      const merged = mergeReports([
        { name: 'b.json', report: report(2, 2, 5, 4, [failure(3)]) },
        { name: 'a.json', report: report(1, 2, 5, 4, [failure(0)]) },
      ]);
      if (!merged.ok) throw new Error(merged.message);
      expect(merged.value).to.deep.include({ runs: 10, passed: 8, seedsPerSecond: 10, workers: 4 });
      expect(merged.value.failures.map((f) => f.seed)).to.deep.equal([0, 3]);
      expect(merged.value.shard).to.have.length(2);
      // a merged report merges again
      const again = mergeReports([{ name: 'm.json', report: merged.value }]);
      expect(again.ok).to.equal(true);
    });

    it('refuses overlapping shards and corrupt reports', () => {
      const overlap = mergeReports([{ name: 'a.json', report: report(1, 2, 5, 5) }, { name: 'b.json', report: report(1, 2, 5, 5) }]);
      expect(overlap.ok).to.equal(false);
      if (!overlap.ok) expect(overlap.message).to.match(/^shards overlap: b\.json and a\.json both ran \w+ seed \d+$/);
      expect(mergeReports([{ name: 'a', report: report(1, 1, 10, 10) }, { name: 'b', report: report(1, 2, 5, 5) }]).ok).to.equal(false);
      expect(parseReport('{').ok).to.equal(false);
      expect(parseReport('{"runs":1}').ok).to.equal(false);
      expect(parseReport(JSON.stringify(report(1, 2, 5, 5))).ok).to.equal(true);
    });
  });

  describe('the command', () => {
    it('--json prints exactly the report on stdout; --merge joins shard reports', async () => {
      const out = join(dir, 'cli');
      const shard = (i: number) => wsim(['--runs', '4', '--seed', '200', '--workers', '1', '--shard', `${i}/2`, '--scenario', 'connection_timeout_handling', '--json', '--out', out]);
      const [a, b] = await Promise.all([shard(1), shard(2)]);
      expect(a.status, a.stderr).to.equal(0);
      const report = JSON.parse(a.stdout) as SwarmReport;
      expect(Object.keys(report)).to.deep.equal(['runs', 'passed', 'failures', 'shard', 'seedsPerSecond', 'workers']);
      expect(report).to.deep.include({ runs: 2, passed: 2, failures: [], workers: 1 });
      expect(report.shard).to.deep.equal({ index: 1, count: 2, seed: 200, runs: 4, scenario: 'connection_timeout_handling' });
      expect(a.stderr).to.contain('wsim swarm: 2/2 seeds, 0 failed');
      writeFileSync(join(dir, 'a.json'), a.stdout);
      writeFileSync(join(dir, 'b.json'), b.stdout);
      const [merged, twice] = await Promise.all([wsim(['--merge', join(dir, 'a.json'), join(dir, 'b.json'), '--json']), wsim(['--merge', join(dir, 'a.json'), join(dir, 'a.json')])]);
      expect(merged.status, merged.stderr).to.equal(0);
      expect(JSON.parse(merged.stdout)).to.deep.include({ runs: 4, passed: 4, failures: [] });
      expect(twice.status).to.equal(2);
      expect(twice.stderr.trim().split('\n')).to.have.length(1);
    });

    it('usage errors exit 2 with one line on stderr and nothing on stdout', async () => {
      writeFileSync(join(dir, 'corrupt.json'), '{"runs": 3');
      const cases = [['--runs', '4', '--shard', '3/2'], ['--runs', '4', '--shard', 'half'], ['--runs', '1', '--scenario', CHEAP.replace('events', 'event')], ['--merge', join(dir, 'corrupt.json')], ['--merge', join(dir, 'missing.json')], []];
      const results = await Promise.all(cases.map(wsim));
      results.forEach((r, i) => {
        expect(r.status, cases[i]!.join(' ')).to.equal(2);
        expect(r.stdout).to.equal('');
        expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      });
      expect(results[2]!.stderr).to.contain(`did you mean '${CHEAP}'?`);
      for (const r of results) expect(r.stderr).to.match(/^wsim swarm: /);
    });
  });
});
