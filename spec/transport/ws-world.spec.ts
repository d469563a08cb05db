/**
 * `wsim run --transport ws`: scenarios over real sockets on 127.0.0.1,
 * through the fault proxy that applies their fault plans to the bytes,
 * judged by the same oracle and checks as in simulation. One scenario per
 * category (a few seconds each), and the heartbeat's bound measured on real
 * sockets with short timers.
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { RecordOf } from '../../sim/records.ts';
import { Trace } from '../../sim/trace.ts';
import { latenessOf, silences } from '../../sim/checks.ts';
import { judgeRun, resolveInput, type RunOutcome, type Scenario } from '../../sim/scenario.ts';
import { findScenario } from '../../sim/scenarios/index.ts';
import { keepTrace, REAL_TIME_TOLERANCE_MS, runScenarioOverWs, runWorldOverWs } from '../../sim/ws-world.ts';
import { traceReplayCommand } from '../../cli/replay-command.ts';

const exec = promisify(execFile);
const faultTotal = (o: RunOutcome): number => Object.values(o.result.faults).reduce((a, b) => a + b, 0);

describe('transport: scenarios over real sockets through the fault proxy (--transport ws)', function () {
  this.timeout(30_000);

  const perCategory: { id: string; seed: number; applied: (o: RunOutcome) => void }[] = [
    { id: 'mission_critical_events_delivery_guaranteed', seed: 3, applied: () => {} },
    { id: 'connection_auto_reconnect_mechanism', seed: 3, applied: (o) => expect(o.result.faults.disconnect + o.result.faults.refused + o.result.faults.partitionDrop, 'cuts and partitions applied').to.be.greaterThan(0) },
    { id: 'multi_tenant_event_isolation', seed: 3, applied: () => {} },
    { id: 'connection_failure_recovery', seed: 3, applied: (o) => expect(faultTotal(o), 'restarts or partitions applied').to.be.greaterThan(0) },
    { id: 'large_payload_handling_performance', seed: 3, applied: (o) => expect(o.input.plan.bandwidth, 'a bandwidth-limited link').to.be.a('number') },
  ];

  for (const { id, seed, applied } of perCategory) {
    const scenario = findScenario(id)!;
    it(`${scenario.category}: ${id} holds over ws (seed ${seed})`, async () => {
      const report = await runScenarioOverWs(scenario, { seed, runs: 1 });
      const outcome = report.outcomes[0]!;
      expect(outcome.failures, `${outcome.failures.join('\n')}\ntrace: ${report.traceFile}`).to.deep.equal([]);
      expect(outcome.verdict.metrics.expected).to.be.greaterThan(0);
      expect(outcome.verdict.metrics.delivered).to.equal(outcome.verdict.metrics.expected);
      expect(outcome.verdict.metrics.leaks).to.equal(0);
      applied(outcome);
    });
  }

  it('heartbeat: half-open links in both directions are closed within H+T (+ the stated tolerance) on real sockets', async () => {
    const base = findScenario('connection_heartbeat_monitoring')!;
    // short timers, so the bound is measured in a few seconds: H = 300, T = 400, the server reaps after H+T
    const scenario: Scenario = { ...base, protocol: { clientConfig: { pingIntervalMs: 300, pongTimeoutMs: 400 }, sessionConfig: { reapAfterMs: 700 } } };
    const input = resolveInput(scenario, 5, '0')!;
    const users = input.workload.users;
    const endpoint = (i: number) => `endpoint:${users[i % users.length]!.tenant}/${users[i % users.length]!.user}/0`;
    const plan = { ...input.plan, halfOpen: [{ target: endpoint(0), dir: 's2c' as const, from: 800, to: 2500 }, { target: endpoint(1), dir: 'c2s' as const, from: 900, to: 2600 }], healAt: 2700 };
    const { result, effective } = await runWorldOverWs(scenario, { ...input, plan }, { seed: 5 });
    const outcome = judgeRun(scenario, effective, result, { seed: 5, path: '0', compare: false });
    expect(outcome.failures, outcome.failures.join('\n')).to.deep.equal([]);
    const found = silences(result.trace.records, plan, 700 + REAL_TIME_TOLERANCE_MS);
    expect(found.length, 'links fell silent').to.be.greaterThan(0);
    const lateness = latenessOf(result.trace.records);
    for (const s of found) expect(s.closedAt! - s.from, `${s.link} (${s.dir})`).to.be.at.most(700 + lateness(s.from, s.closedAt!));
    expect(result.faults.halfOpenDrop, 'the proxy held bytes').to.be.greaterThan(0);
  });

  it('a failing ws run keeps its trace and input; `replay --trace` renders it and judges it by the scenario again', async () => {
    const scenario = findScenario('concurrent_user_scaling_performance')!;
    const input = resolveInput(scenario, 1, '0')!;
    const { result, effective } = await runWorldOverWs(scenario, input, { seed: 1, path: '0' });
    // the recorded run, with one event handed to an app twice: the verdict must come back FAIL
    const records = [...result.trace.records];
    const at = records.findIndex((r) => r.k === 'app');
    records.splice(at + 1, 0, { ...(records[at] as RecordOf<'app'>) });
    const trace = new Trace();
    for (const r of records) trace.append(r);
    const outcome = judgeRun(scenario, effective, { ...result, trace }, { seed: 1, path: '0', compare: false });
    expect(outcome.passed).to.equal(false);
    const file = await keepTrace(outcome);
    const html = file.replace(/\.jsonl$/, '.html');
    expect(traceReplayCommand(file)).to.equal(`npm run replay -- --trace ${file} --html ${html}`);
    try {
      const replay = await exec(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'replay', '--trace', file, '--html', html, '--limit', '5']).then(
        () => expect.fail('replay of a failing trace must exit 1'),
        (err: { code: number; stdout: string }) => err,
      );
      expect(replay.code).to.equal(1);
      expect(replay.stdout).to.contain(`trace ${trace.hash()}`);
      expect(replay.stdout).to.match(/verdict of the scenario \(its input kept beside the trace\): FAIL: 1 duplicates reached an app/);
      expect(existsSync(html)).to.equal(true);
    } finally {
      for (const f of [file, html, file.replace(/\.jsonl$/, '.input.json')]) rmSync(f, { force: true });
    }
  });

  it('`run --transport ws` refuses --drop, --dup and --reorder with one line and exit 2', async () => {
    const refused = await exec(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--transport', 'ws', '--drop', '0.3', '--reorder', '0.1']).then(
      () => expect.fail('must exit 2'),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(refused.code).to.equal(2);
    expect(refused.stdout).to.equal('');
    expect(refused.stderr.trim().split('\n')).to.deep.equal(['wsim run: --drop, --reorder cannot apply with --transport ws: TCP never loses, duplicates or reorders bytes (use --disconnect-every, or --transport sim)']);
  });
});
