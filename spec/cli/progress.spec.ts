/**
 * What a person sees while a long command runs: progress instead of a wall
 * of per-run lines (`run` with and without --verbose), an estimate for a
 * huge --runs, --workers capped at the cores, numbers rounded, and a
 * did-you-mean for near misses.
 */
import { expect } from 'chai';
import { formatDuration, formatMs, roundNumbers } from '../../cli/duration.ts';
import { startProgress } from '../../cli/progress.ts';
import { workersFor } from '../../cli/swarm.ts';
import { suggest } from '../../cli/usage.ts';
import { SCENARIO_IDS } from '../../sim/scenarios/index.ts';
import { invoke } from './invoke.ts';

/** A progress on a fake clock that advances `msPerUnit` per unit of work; its lines. */
function simulate(total: number, msPerUnit: number, units = total): string[] {
  let t = 0;
  const lines: string[] = [];
  const p = startProgress({ command: 'run', total, status: (d) => `${d}/${total} runs`, tty: false, write: (s) => lines.push(...s.trimEnd().split('\n')), now: () => t });
  for (let i = 0; i < units; i++) {
    t += msPerUnit;
    p.advance();
  }
  p.stop();
  return lines;
}

describe('cli: progress', function () {
  this.timeout(60_000);

  it('prints about ten lines for any number of runs, each with elapsed time and an estimate', () => {
    for (const total of [7, 478, 5000]) {
      const lines = simulate(total, 50);
      expect(lines.length, `${total} runs: ${lines.join(' | ')}`).to.be.within(Math.min(total, 10), 11);
      expect(lines.at(-1)).to.match(new RegExp(`^wsim run: ${total}/${total} runs, [\\d.]+ (s|min [\\d]+ s) elapsed$`));
    }
    expect(simulate(478, 50)[4]).to.match(/^wsim run: 239\/478 runs, 12 s elapsed, about 12 s left$/);
  });

  it('a line at least every 30 s when a tenth takes longer', () => {
    const lines = simulate(1000, 10_000, 30); // 10 s a run: 30 runs in 300 s, no tenth reached
    expect(lines.filter((l) => /runs, /.test(l)).length).to.be.within(9, 11);
  });

  it('announces a long job once, with its estimate', () => {
    const lines = simulate(1_000_000_000, 1500, 3);
    const announce = lines.filter((l) => l.includes('this will take about'));
    expect(announce, lines.join('\n')).to.have.length(1);
    expect(announce[0]).to.match(/^wsim run: this will take about [\d,]+ days more at the rate so far \(\d+\/1000000000 runs\); Ctrl-C stops it$/);
    expect(simulate(100, 10).some((l) => l.includes('this will take'))).to.equal(false);
  });

  it('wsim run prints progress, not a line per run; --verbose adds one line per run with seed, path and world seed', async () => {
    const id = 'connection_timeout_handling';
    // the seed named, so that SIM_SEED (the CLI's default seed) leaves this test alone
    const quiet = await invoke(['run', '--scenario', id, '--runs', '12', '--seed', '42']);
    expect(quiet.code, quiet.stderr).to.equal(0);
    const lines = quiet.stderr.trimEnd().split('\n');
    expect(lines[0]).to.equal(`wsim run: 1 scenario, 12 runs from seed 42 (--verbose: a line per run)`);
    expect(lines.length).to.be.within(3, 12);
    expect(lines.every((l) => l.startsWith('wsim run: ')), lines.join('\n')).to.equal(true);
    expect(lines.at(-1)).to.match(/^wsim run: 1\/1 scenarios, 12\/12 runs, [\d.]+ s elapsed$/);
    expect(quiet.stdout).to.match(new RegExp(`\\n${id} +12 `));

    const verbose = await invoke(['run', '--scenario', id, '--runs', '12', '--verbose', '--seed', '7']);
    const perRun = verbose.stderr.split('\n').filter((l) => l.startsWith(`  ${id} `));
    expect(perRun).to.have.length(12);
    perRun.forEach((l, i) => expect(l).to.match(new RegExp(`^  ${id} seed 7 path ${i} \\(world seed \\d+\\): latency=`)));
    expect(verbose.stdout).to.match(new RegExp(`\\n${id} +12 `));

    const silent = await invoke(['run', '--scenario', id, '--runs', '2', '--quiet', '--json', '--seed', '42']);
    expect(silent.stderr).to.equal('');
    expect(JSON.parse(silent.stdout).scenarios[0]).to.include({ id, seed: 42, runs: 2, passed: true });
  });

  it('wsim run --list shows every scenario of the registry with its default runs', async () => {
    const list = await invoke(['run', '--list']);
    expect(list.code).to.equal(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).to.deep.equal([...SCENARIO_IDS]);
    expect(lines[0]).to.match(/ \d+ runs$/);
  });

  it('caps --workers at the cores, with a note', () => {
    const notes: string[] = [];
    expect(workersFor(100, 2, (l) => notes.push(l))).to.equal(2);
    expect(notes).to.deep.equal(["wsim swarm: --workers 100 capped at 2, the machine's cores (more threads only share them and multiply memory)"]);
    expect(workersFor(1, 2, (l) => notes.push(l))).to.equal(1);
    expect(workersFor(undefined, 4)).to.equal(4);
    expect(notes).to.have.length(1);
  });

  it('rounds durations and milliseconds to what means something', () => {
    expect(formatMs(16013.045882999999)).to.equal('16013');
    expect(formatMs(3.4567)).to.equal('3.5');
    expect(roundNumbers('p99 latency 309.6273974874034 ms ≥ 100 ms; 16013.045882999999 ms; rate 0.9987')).to.equal('p99 latency 310 ms ≥ 100 ms; 16013 ms; rate 0.9987');
    expect(formatDuration(2.2)).to.equal('2.2 s');
    expect(formatDuration(339)).to.equal('5 min 39 s');
    expect(formatDuration(1320)).to.equal('22 min 00 s');
    expect(formatDuration(7380)).to.equal('2 h 03 min');
  });

  it('suggests the near miss, and nothing for a far one', () => {
    expect(suggest('rnu', ['run', 'replay', 'swarm'])).to.equal('run');
    expect(suggest('mission_critical_event_delivery_guaranteed', SCENARIO_IDS)).to.equal('mission_critical_events_delivery_guaranteed');
    expect(suggest('heartbeat', SCENARIO_IDS)).to.equal(undefined);
    expect(suggest('zzz', SCENARIO_IDS)).to.equal(undefined);
  });
});
