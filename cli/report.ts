/**
 * The report of `wsim run`: one row per scenario, as a table for people and
 * as the JSON object of DESIGN.md for machines.
 */
import type { FaultCounts } from '../sim/network.ts';
import { percentile, type Metrics } from '../sim/oracle.ts';
import type { ScenarioReport } from '../sim/scenario.ts';
import { roundNumbers } from './duration.ts';
import { replayCommand } from './replay-command.ts';
import type { FaultOverrides } from '../sim/fault-arbitraries.ts';

export interface ScenarioRow {
  id: string;
  category: string;
  seed: number;
  runs: number;
  passed: boolean;
  traceHash: string;
  metrics: Pick<
    Metrics,
    | 'deliveryRate' | 'delivered' | 'expected' | 'lost' | 'excused' | 'duplicatesToApp' | 'orderViolations' | 'isolationViolations'
    | 'policyViolations' | 'leaks' | 'latencyP50Ms' | 'latencyP99Ms' | 'reconnects' | 'retransmissions' | 'resyncs' | 'deadLetters' | 'rejectedFrames'
  > & { simulatedSeconds: number; wallSeconds: number };

  faults: FaultCounts & { total: number };
  failures?: string[];
  replay?: string;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export function rowOf(report: ScenarioReport, wallMs: number, overrides?: FaultOverrides, variant?: string): ScenarioRow {
  const ms = report.outcomes.map((o) => o.verdict.metrics);
  const sum = (f: (m: (typeof ms)[number]) => number) => ms.reduce((n, m) => n + f(m), 0);
  const faults = report.outcomes.reduce(
    (acc, o) => {
      for (const [k, v] of Object.entries(o.result.faults)) acc[k as keyof FaultCounts] = (acc[k as keyof FaultCounts] ?? 0) + v;
      return acc;
    },
    {} as Record<keyof FaultCounts, number>,
  );
  const expected = sum((m) => m.expected);
  const delivered = sum((m) => m.delivered);
  return {
    id: report.scenario.id,
    category: report.scenario.category,
    seed: report.seed,
    runs: report.runs,
    passed: report.passed,
    traceHash: report.traceHash,
    metrics: {
      deliveryRate: expected === 0 ? 1 : round(delivered / expected, 6),
      delivered,
      expected,
      lost: sum((m) => m.lost),
      excused: sum((m) => m.excused),
      duplicatesToApp: sum((m) => m.duplicatesToApp),
      orderViolations: sum((m) => m.orderViolations),
      isolationViolations: sum((m) => m.isolationViolations),
      policyViolations: sum((m) => m.policyViolations),
      leaks: sum((m) => m.leaks),
      // p50: the median run's median; p99: the worst run's p99 (a run is the unit that must hold)
      latencyP50Ms: round(percentile(ms.map((m) => m.latencyP50Ms).sort((a, b) => a - b), 50)),
      latencyP99Ms: round(Math.max(0, ...ms.map((m) => m.latencyP99Ms))),
      reconnects: sum((m) => m.reconnects),
      retransmissions: sum((m) => m.retransmissions),
      resyncs: sum((m) => m.resyncs),
      deadLetters: sum((m) => m.deadLetters),
      rejectedFrames: sum((m) => m.rejectedFrames),
      simulatedSeconds: round(sum((m) => m.simulatedMs) / 1000),
      wallSeconds: round(wallMs / 1000),
    },
    faults: { ...faults, total: Object.values(faults).reduce((a, b) => a + b, 0) },
    ...(report.failure ? { failures: report.failure.failures.map(roundNumbers), replay: replayCommand(report.scenario.id, report.seed, report.failure.path, overrides, variant) } : {}),
  };
}

const COLUMNS = ['scenario', 'runs', 'faults', 'delivered', 'lost', 'dups', 'order', 'leaks', 'p50 ms', 'p99 ms', 'verdict'] as const;

export function table(rows: readonly ScenarioRow[]): string {
  const cells = rows.map((r) => [
    r.id,
    String(r.runs),
    String(r.faults.total),
    `${r.metrics.delivered}/${r.metrics.expected}`,
    String(r.metrics.lost),
    String(r.metrics.duplicatesToApp),
    String(r.metrics.orderViolations),
    String(r.metrics.leaks),
    r.metrics.latencyP50Ms.toFixed(1),
    r.metrics.latencyP99Ms.toFixed(1),
    r.passed ? 'PASS' : 'FAIL',
  ]);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  const failed = rows.filter((r) => !r.passed);
  for (const r of failed) out.push('', `FAIL ${r.id}: ${r.failures?.[0] ?? ''}`, `  replay: ${r.replay}`);
  out.push('', `${rows.length - failed.length} passed, ${failed.length} failed`);
  return out.join('\n');
}
