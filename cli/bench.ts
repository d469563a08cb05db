/**
 * `wsim bench [--json] [--quick]`: the benchmark figures of DESIGN.md,
 * measured side by side in one process — simulation speed, routing cost as
 * sessions grow, swarm parallelism, real sockets against raw `ws` and
 * Socket.IO, memory. Each figure is the median of several repetitions, its
 * spread (min..max, every run) under `spread`. `--quick` is a shorter
 * version with fewer and shorter repetitions (the smoke spec runs it): 25 s
 * of CPU, 50–85 s of wall time measured on a shared 2-core VM.
 *
 * stdout: the report (with --json, one JSON object and nothing else);
 * stderr: progress. Performance is measured here, never asserted.
 */
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { measureCluster, type ClusterDetail, type ClusterFigures } from '../bench/cluster.ts';
import { measureMemory, type MemoryDetail, type MemoryFigures } from '../bench/memory.ts';
import { measurePeer, type PeerDetail } from '../bench/peer-socketio.ts';
import { measureScaling, type ScalingDetail, type ScalingFigures } from '../bench/scaling.ts';
import { measureSim, type SimDetail, type SimFigures } from '../bench/sim-speed.ts';
import { log } from '../bench/stats.ts';
import { measureSwarm, type SwarmDetail, type SwarmFigures } from '../bench/swarm.ts';
import { measureWs, type WsDetail, type WsFigures } from '../bench/ws.ts';

export interface BenchReport {
  sim: SimFigures;
  scaling: ScalingFigures;
  swarm: SwarmFigures;
  ws: WsFigures;
  peers: { socketio: { eventsPerSecond: number; latencyP99Ms: number }; ratio: number };
  memory: MemoryFigures;
  cluster: ClusterFigures;
  spread: { sim: SimDetail; scaling: ScalingDetail; swarm: SwarmDetail; ws: WsDetail; peers: PeerDetail; memory: MemoryDetail; cluster: ClusterDetail };
  machine: { cpus: number; cpuModel: string; node: string; xstate: string; platform: string; date: string; quick: boolean; wallSeconds: number; loadavgBefore: number[]; loadavgAfter: number[]; runtime: Runtime };
}

/**
 * Which code the bench measured: the built JavaScript users run (`npm run bench`
 * builds dist/ first when it is stale: scripts/run-cli.mjs) or the TypeScript
 * through tsx (the smoke spec, `npx tsx cli/main.ts bench`).
 */
export type Runtime = 'dist' | 'tsx';

export const RUNTIME: Runtime = import.meta.url.endsWith('.js') ? 'dist' : 'tsx';

/** How much of each measurement: the full bench (about 3 min on 2 cores) or the quick one (50–85 s). */
export interface BenchProfile {
  sim: { seconds: number; reps: number; toggleSends: number };
  scaling: { rounds: number; worldSeconds: number; reps: number };
  swarm: { runs: number; reps: number };
  ws: { events: number; reps: number; steadySeconds: number; steadyReps: number };
  peers: { events: number; reps: number };
  memory: { reps: number; seconds: number; growthReps: number };
  cluster: { events: number; reps: number };
}

export const FULL: BenchProfile = {
  sim: { seconds: 30, reps: 5, toggleSends: 500_000 },
  scaling: { rounds: 300, worldSeconds: 3, reps: 3 },
  swarm: { runs: 200, reps: 3 },
  ws: { events: 10_000, reps: 7, steadySeconds: 10, steadyReps: 3 },
  peers: { events: 10_000, reps: 7 },
  memory: { reps: 3, seconds: 30, growthReps: 2 },
  cluster: { events: 5000, reps: 3 },
};

export const QUICK: BenchProfile = {
  sim: { seconds: 4, reps: 2, toggleSends: 100_000 },
  scaling: { rounds: 50, worldSeconds: 1, reps: 1 },
  // each pool runs the batch twice, cold then warm (bench/swarm.ts): 4 × 60 seeds of about 25 ms
  swarm: { runs: 60, reps: 1 },
  ws: { events: 2000, reps: 2, steadySeconds: 2, steadyReps: 1 },
  peers: { events: 2000, reps: 2 },
  memory: { reps: 1, seconds: 4, growthReps: 1 },
  cluster: { events: 1000, reps: 1 },
};

const round2 = (n: number) => Math.round(n * 100) / 100;

export async function runBench(options: { quick?: boolean } = {}): Promise<BenchReport> {
  const profile = options.quick ? QUICK : FULL;
  const started = performance.now();
  const loadavgBefore = loadavg().map(round2);
  const stage = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    log(`bench: ${name}…`);
    const out = await fn();
    log(`bench: ${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    return out;
  };
  const sim = await stage('sim', () => measureSim(profile.sim));
  const scaling = await stage('scaling', () => measureScaling(profile.scaling));
  const swarm = await stage('swarm', () => measureSwarm(profile.swarm));
  const ws = await stage('ws', () => measureWs(profile.ws));
  const peers = await stage('peers', () => measurePeer(profile.peers, { eventsPerSecond: ws.figures.eventsPerSecond, burstLatencyP99Ms: ws.detail.burst.latencyP99Ms }));
  const memory = await stage('memory', () => measureMemory(profile.memory));
  // three nodes and a throwaway redis-server (Debian's; .ci/run installs it)
  const cluster = await stage('cluster', () => measureCluster(profile.cluster));
  const require = createRequire(import.meta.url);
  const cpuList = cpus();
  return {
    sim: sim.figures,
    scaling: scaling.figures,
    swarm: swarm.figures,
    ws: ws.figures,
    peers: { socketio: { eventsPerSecond: peers.figures.socketio.eventsPerSecond, latencyP99Ms: peers.figures.socketio.latencyP99Ms }, ratio: peers.figures.ratio },
    memory: memory.figures,
    cluster: cluster.figures,
    spread: { sim: sim.detail, scaling: scaling.detail, swarm: swarm.detail, ws: ws.detail, peers: peers.detail, memory: memory.detail, cluster: cluster.detail },
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      node: process.version,
      xstate: (require('xstate/package.json') as { version: string }).version,
      platform: `${process.platform}-${process.arch}`,
      date: new Date().toISOString(),
      quick: options.quick === true,
      wallSeconds: round2((performance.now() - started) / 1000),
      loadavgBefore,
      loadavgAfter: loadavg().map(round2),
      runtime: RUNTIME,
    },
  };
}

const fmt = (n: number, digits = 3) => (Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : String(Number(n.toPrecision(digits))));
const range = (s: { min: number; max: number }) => `${fmt(s.min)}..${fmt(s.max)}`;

/** The human table: figure, median, spread, target. */
export function formatBench(r: BenchReport): string {
  const s = r.spread;
  const rows: [string, string, string, string][] = [
    ['sim speedup (simulated / wall)', `${fmt(r.sim.speedup)}×`, range(s.sim.spread.speedup), '≥ 50×'],
    ['sim wall seconds', fmt(r.sim.wallSeconds), range(s.sim.spread.wallSeconds), ''],
    ['sim wall µs / delivered event', fmt(r.sim.wallPerEventUs), range(s.sim.spread.wallPerEventUs), ''],
    ['sim delivered events / wall s', fmt(r.sim.eventsPerWallSecond), range(s.sim.spread.eventsPerWallSecond), ''],
    ['sim transitions per event', fmt(r.sim.transitionsPerEvent), '', ''],
    ['xstate toggle transitions / s', fmt(r.sim.xstateTransitionsPerSecond), range(s.sim.spread.xstateTransitionsPerSecond), ''],
    ['sim floorRatio', fmt(r.sim.floorRatio), '', '≥ 0.5'],
    ['routing µs/event @10', fmt(s.scaling.routingUsPerEvent['10']!.median), range(s.scaling.routingUsPerEvent['10']!), ''],
    ['routing µs/event @100', fmt(s.scaling.routingUsPerEvent['100']!.median), range(s.scaling.routingUsPerEvent['100']!), ''],
    ['routing µs/event @1000', fmt(s.scaling.routingUsPerEvent['1000']!.median), range(s.scaling.routingUsPerEvent['1000']!), ''],
    ['scaling costPerEventRatio', fmt(r.scaling.costPerEventRatio), '', '≤ 2'],
    ['  whole world µs/event ratio', fmt(s.scaling.world.costPerEventRatio), '', '(heartbeats incl.)'],
    ['swarm seeds/s, 1 worker (warm)', fmt(s.swarm.seedsPerSecond.warm.workers1.median), range(s.swarm.seedsPerSecond.warm.workers1), ''],
    ['swarm seeds/s, 2 workers (warm)', fmt(s.swarm.seedsPerSecond.warm.workers2.median), range(s.swarm.seedsPerSecond.warm.workers2), ''],
    ['swarm speedup (warm threads)', fmt(r.swarm.speedup), range(s.swarm.speedup.warm), '≥ 1.6'],
    ['swarm speedup (start-up included)', fmt(r.swarm.coldSpeedup), range(s.swarm.speedup.cold), ''],
    ['swarm CPU, 1 worker / 2 workers (warm)', fmt(s.swarm.cpuEfficiency.warm), '', ''],
    ['machine parallelism (2 threads / 1)', fmt(r.swarm.parallelism), range(s.swarm.machineParallelism), ''],
    ['swarm efficiency (speedup / parallelism)', fmt(r.swarm.efficiency), '', '≥ 0.85'],
    ['ws events/s (burst)', fmt(r.ws.eventsPerSecond), range(s.ws.burst.eventsPerSecond), ''],
    ['ws raw messages/s', fmt(r.ws.rawEventsPerSecond), range(s.ws.raw.messagesPerSecond), ''],
    ['ws ratio', fmt(r.ws.ratio), '', '≥ 0.4'],
    ['ws p50 ms (seed load)', fmt(r.ws.latencyP50Ms), range(s.ws.seedLoad.latencyP50Ms), ''],
    ['ws p99 ms (seed load)', fmt(r.ws.latencyP99Ms), range(s.ws.seedLoad.latencyP99Ms), '< 5'],
    ['ws p99 ms (burst)', fmt(s.ws.burst.latencyP99Ms), range(s.ws.burst.latencyP99MsSpread), ''],
    ['socket.io events/s', fmt(r.peers.socketio.eventsPerSecond), range(s.peers.socketio.eventsPerSecond), ''],
    ['socket.io p99 ms (burst)', fmt(r.peers.socketio.latencyP99Ms), range(s.peers.socketio.latencyP99Ms), ''],
    ['  socket.io, per-message acks', fmt(s.peers.socketioPerMessageAck.eventsPerSecond.median), range(s.peers.socketioPerMessageAck.eventsPerSecond), '(no recovery)'],
    ['CPU µs/event: wsim / socket.io / raw', `${fmt(s.ws.burst.cpuUsPerEvent.median)} / ${fmt(s.peers.socketio.cpuUsPerEvent.median)} / ${fmt(s.ws.raw.cpuUsPerMessage.median)}`, '', ''],
    ['peers ratio (wsim / socket.io)', fmt(r.peers.ratio), '', '≥ 1.5'],
    ['bytes per idle session', fmt(r.memory.bytesPerIdleSession), range(s.memory.spread.bytesPerIdleSession), ''],
    ['  on compiled JavaScript', fmt(r.memory.compiledBytesPerIdleSession), range(s.memory.spread.compiledBytesPerIdleSession), '≤ 12,000'],
    ['cluster events/s (3 nodes + Redis)', fmt(r.cluster.eventsPerSecond), range(s.cluster.wsim.eventsPerSecond), ''],
    ['cluster p99 ms', fmt(r.cluster.latencyP99Ms), range(s.cluster.wsim.latencyP99Ms), ''],
    ['socket.io + redis-streams events/s', fmt(r.cluster.socketioRedis.eventsPerSecond), range(s.cluster.socketio.eventsPerSecond), ''],
    ['socket.io + redis-streams p99 ms', fmt(r.cluster.socketioRedis.latencyP99Ms), range(s.cluster.socketio.latencyP99Ms), ''],
    ['cluster ratio (wsim / socket.io)', fmt(r.cluster.ratio), '', ''],
    ['heap growth (sustained)', `${fmt(100 * r.memory.heapGrowth)}%`, range({ min: 100 * s.memory.spread.heapGrowth.min, max: 100 * s.memory.spread.heapGrowth.max }), '< 10%'],
  ];
  const header: [string, string, string, string] = ['figure', 'median', 'spread (min..max)', 'target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const m = r.machine;
  return [
    `wsim bench${m.quick ? ' --quick' : ''} — ${m.date}, ${m.runtime === 'dist' ? 'built JavaScript (dist/)' : 'TypeScript through tsx'}, ${m.cpus} × ${m.cpuModel}, node ${m.node}, xstate ${m.xstate}, ${fmt(m.wallSeconds)} s, load ${m.loadavgBefore.join('/')} → ${m.loadavgAfter.join('/')}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `sim: ${r.sim.deliveredEvents} events, ${fmt(r.sim.simulatedSeconds)} s simulated under load (${fmt(s.sim.simulatedSecondsTotal)} s in all), verification ${s.sim.verified.passed ? 'passed' : 'FAILED'}${s.sim.verified.notJudged.length > 0 ? ' (memory growth and drift not judged on a short load)' : ''}`,
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('measure the benchmark figures (sim speed, scaling, swarm, real sockets, Socket.IO, memory)')
    .option('--json', 'print one JSON object on stdout')
    .option('--quick', 'fewer, shorter repetitions: 50–85 s on 2 shared cores (25 s of CPU) instead of about 3 min')
    .action(async (flags: { json?: boolean; quick?: boolean }) => {
      const report = await runBench({ quick: flags.quick === true });
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatBench(report)}\n`);
    });
}
