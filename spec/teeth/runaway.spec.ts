/**
 * A sender that never stops fails its run with a typed `runaway`, never with
 * V8's out-of-memory crash: `retransmit-unbounded` over the megabyte frames
 * of large_payload_handling_performance used to fill the heap (seed 42 path
 * 2). The honest protocol on the same scenario stays far below the bound.
 */
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { SimNetwork, MAX_HELD_BYTES } from '../../sim/network.ts';
import { runWorldOn } from '../../sim/run-driver.ts';
import { judgeRun, resolveInput, type ScenarioInput } from '../../sim/scenario.ts';
import { World } from '../../sim/world.ts';
import { scenario } from '../scenarios/harness.ts';

const ID = 'large_payload_handling_performance';
/** Far below the 4 GB default: a run that held its runaway sender's frames without bound would die here. */
const HEAP_MB = 1024;

/** One honest run of the scenario, and the most one link direction held in it. */
function honestRun(seed: number, path: string) {
  const s = scenario(ID);
  const input: ScenarioInput = resolveInput(s, seed, path)!;
  let network: SimNetwork | undefined;
  const world = (i: ConstructorParameters<typeof World>[0], setup: ConstructorParameters<typeof World>[1]) => {
    const w = new World(i, setup);
    network = w.network as SimNetwork;
    return w;
  };
  const result = runWorldOn({ scenario: ID, seed: input.worldSeed, path, workload: input.workload, plan: input.plan, protocol: s.protocol ?? {}, settleMs: s.settleMs }, world);
  const outcome = judgeRun(s, input, result, { seed, path, compare: false });
  return { outcome, peak: network!.peakHeldBytes() };
}

describe('teeth: a runaway sender fails its run, it does not crash the process', function () {
  this.timeout(120_000);

  it(`retransmit-unbounded over ${ID} fails with the typed runaway reason, within a ${HEAP_MB} MB heap and bounded time`, () => {
    const started = Date.now();
    const args = [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', 'cli/main.ts', 'run', '--scenario', ID, '--variant', 'retransmit-unbounded', '--seed', '42', '--runs', '3', '--quiet', '--json'];
    const run = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 90_000 });
    expect(run.signal, `killed (${run.signal}): ${run.stderr.slice(-300)}`).to.equal(null);
    expect(run.stderr).to.not.include('heap out of memory');
    expect(run.status, run.stderr.slice(-300)).to.equal(1);
    const row = (JSON.parse(run.stdout) as { scenarios: { passed: boolean; runs: number; failures: string[]; replay: string }[] }).scenarios[0]!;
    expect(row.passed).to.equal(false);
    expect(row.failures[0]).to.match(/^runaway: s2c of link \S+ reached [\d.]+ MB queued or in flight \(bound 256(\.0)? MB\): its sender never stops; the run was stopped at [\d.]+ ms$/);
    expect(row.replay).to.include('--path 2 --variant retransmit-unbounded');
    console.log(`      ${row.failures[0]} (${((Date.now() - started) / 1000).toFixed(1)} s wall)`);
  });

  it(`the honest protocol over ${ID} passes and holds at most an eighth of the bound on any link direction`, () => {
    let most = 0;
    // the path the variant ran away on, and the three that held the most of 90 measured (seeds 1–8 and 42, paths 0–9)
    for (const [seed, path] of [[42, '2'], [2, '1'], [2, '4'], [42, '8']] as const) {
      const { outcome, peak } = honestRun(seed, path);
      expect(outcome.failures, `seed ${seed} path ${path}`).to.deep.equal([]);
      expect(outcome.result.trace.count('runaway')).to.equal(0);
      expect(peak * 8, `seed ${seed} path ${path} held ${peak} bytes`).to.be.at.most(MAX_HELD_BYTES);
      most = Math.max(most, peak);
    }
    // a run of megabyte frames that held next to nothing would prove nothing about the bound
    expect(most).to.be.above(16 * 1024 * 1024);
    console.log(`      most held on one link direction: ${(most / 1048576).toFixed(1)} MB, bound ${MAX_HELD_BYTES / 1048576} MB`);
  });
});
