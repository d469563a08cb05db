/**
 * The teeth from the command line: `wsim variants` lists them, `--variant`
 * runs one, the scenario that owns it fails (exit 1), and the replay command
 * it prints reproduces the failure.
 */
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { SCENARIO_IDS } from '../../sim/scenarios/index.ts';
import { BROKEN } from '../../sim/variants.ts';

const wsim = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('cli: wsim variants and --variant', function () {
  this.timeout(180_000);

  it('wsim variants --json lists every variant with the scenario that must catch it', () => {
    const out = wsim(['variants', '--json']);
    expect(out.status).to.equal(0);
    const list = JSON.parse(out.stdout) as { name: string; scenario: string }[];
    expect(list).to.deep.equal(BROKEN.map((b) => ({ name: b.name, scenario: b.caughtBy })));
    for (const v of list) expect(SCENARIO_IDS).to.include(v.scenario);
  });

  it('wsim run --variant fails the owning scenario, and the printed replay command shows the violation', () => {
    const run = wsim(['run', '--scenario', 'connection_failure_recovery', '--variant', 'eviction-resync-once', '--runs', '5', '--quiet', '--json']);
    expect(run.status, run.stderr).to.equal(1);
    const row = (JSON.parse(run.stdout) as { scenarios: { passed: boolean; replay: string; failures: string[] }[] }).scenarios[0]!;
    expect(row.passed).to.equal(false);
    expect(row.replay).to.include('--variant eviction-resync-once');
    const args = row.replay.replace(/^npm run replay -- /, '').split(' ');
    const replay = wsim(['replay', ...args, '--limit', '5']);
    expect(replay.status).to.equal(1);
    expect(replay.stdout).to.include(`verdict FAIL: ${row.failures[0]}`);
    // the same run on the real protocol passes
    const honest = wsim(['replay', ...args.slice(0, args.indexOf('--variant')), '--limit', '5']);
    expect(honest.status, honest.stdout.slice(-500)).to.equal(0);
  });

  it('an unknown variant is one usage line, exit 2', () => {
    const out = wsim(['run', '--variant', 'no-such-bug']);
    expect(out.status).to.equal(2);
    expect(out.stderr.trim().split('\n')).to.have.length(1);
    expect(out.stderr).to.include('eviction-resync-once');
  });
});
