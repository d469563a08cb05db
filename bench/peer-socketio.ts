/**
 * The peer: Socket.IO 4 (server and client from npm) on the same loopback,
 * delivering the same workload as wsim's burst: the same N event frames
 * (wsim's encoded text, parsed by the client as wsim's client parses its
 * frames), published 100 per setImmediate into a queue, sent within a window
 * of unacknowledged messages. WebSocket transport only (no long-polling
 * upgrade), no compression, as wsim. Two ways to acknowledge:
 *
 * - `cumulative` (the figure): wsim's guarantees. Socket.IO's
 *   connection-state recovery stores only packets WITHOUT an ack callback
 *   ("the acknowledgement function cannot be serialized", socket.io-adapter's
 *   SessionAwareAdapter), so events are emitted plain (stored, with their
 *   offset, for a reconnect to recover) and the client acknowledges
 *   cumulatively as wsim's client does: one `ack` emit per ack delay, or at
 *   once when `ackEveryFrames` are unacknowledged (80 ms, 512 frames); the
 *   window is wsim's (2,048 frames);
 * - `per-message` (as measured before 2026-11-30): an ack callback per emit,
 *   window 512. Those packets are not stored for recovery: acks, but no
 *   recovery, whatever `connectionStateRecovery` says.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_CLIENT_CONFIG } from '../machines/client-connection.ts';
import { DEFAULT_SESSION_CONFIG } from '../machines/server-session.ts';
import { log, percentile, round, roundSpread, spread, within, type Spread } from './stats.ts';
import { eventFrameText, indexOf, pace, streamOf } from './workload.ts';
import { cpuMicros, type Run } from './ws.ts';

export type AckMode = 'cumulative' | 'per-message';
export const WINDOW: Record<AckMode, number> = { cumulative: DEFAULT_SESSION_CONFIG.windowFrames, 'per-message': 512 };

/** The sending side of one mode: `send(k)` puts frame k on the wire, `pump` sends what the window allows. */
interface Sender {
  pump(queued: number): void;
}

type ServerSocket = import('socket.io').Socket;
type ClientSocket = import('socket.io-client').Socket;

/** Per-message ack callbacks: each one frees a slot of the window. */
function perMessage(socket: ServerSocket, frames: string[]): Sender {
  let sent = 0;
  let inflight = 0;
  let queued = 0;
  const pump = (upTo = queued): void => {
    queued = upTo;
    while (inflight < WINDOW['per-message'] && sent < queued) {
      inflight++;
      socket.emit('event', frames[sent++]!, () => {
        inflight--;
        pump();
      });
    }
  };
  return { pump };
}

/** Plain emits (stored for recovery) and the client's cumulative `ack` emits: the window is sent − acked. */
function cumulative(socket: ServerSocket, frames: string[]): Sender {
  let sent = 0;
  let acked = 0;
  let queued = 0;
  const pump = (upTo = queued): void => {
    queued = upTo;
    while (sent - acked < WINDOW.cumulative && sent < queued) socket.emit('event', frames[sent++]!);
  };
  socket.on('ack', (upTo: number) => {
    acked = Math.max(acked, upTo);
    pump();
  });
  return { pump };
}

/** The client: parse each frame as wsim's client would, acknowledge it the mode's way. */
function listen(client: ClientSocket, mode: AckMode, heard: (index: number) => void): void {
  let highest = 0;
  let acked = 0;
  let ackTimer: NodeJS.Timeout | null = null;
  const ackNow = (): void => {
    if (ackTimer) clearTimeout(ackTimer);
    ackTimer = null;
    acked = highest;
    client.emit('ack', highest);
  };
  const ackLater = (): void => {
    if (highest - acked >= DEFAULT_CLIENT_CONFIG.ackEveryFrames) ackNow();
    else ackTimer ??= setTimeout(ackNow, DEFAULT_CLIENT_CONFIG.ackDelayMs);
  };
  client.on('event', (frame: string, ack?: unknown) => {
    const parsed = JSON.parse(frame) as { seq: number; event: { run: string; idx: number } };
    heard(indexOf(parsed.event));
    if (mode === 'per-message') return (ack as () => void)();
    highest = Math.max(highest, parsed.seq);
    ackLater();
  });
}

export async function socketIoBurst(count: number, mode: AckMode = 'cumulative'): Promise<Run> {
  const { Server } = await import('socket.io');
  const { io } = await import('socket.io-client');
  const frames = streamOf(count).map((e, k) => eventFrameText(e, k));
  const publishedAt = new Float64Array(count);
  const receivedAt = new Float64Array(count);
  const httpServer = http.createServer();
  const server = new Server(httpServer, { connectionStateRecovery: {}, transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const port = (httpServer.address() as AddressInfo).port;
  let delivered = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const client = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: true });
  listen(client, mode, (k) => {
    receivedAt[k] = performance.now();
    if (++delivered === count) done();
  });
  const [socket] = await new Promise<[ServerSocket]>((resolve) => server.once('connection', (s) => resolve([s])));
  if (!client.connected) await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  try {
    const sender = mode === 'cumulative' ? cumulative(socket, frames) : perMessage(socket, frames);
    const started = performance.now();
    const cpu = cpuMicros();
    await pace(count, 100, (k) => {
      publishedAt[k] = performance.now();
      sender.pump(k + 1);
    });
    await within(all, 60_000);
    if (delivered < count) throw new Error(`socket.io (${mode} acks): ${delivered}/${count} delivered in 60 s`);
    const cpuUsPerEvent = (cpuMicros() - cpu) / count;
    const elapsed = (Math.max(...receivedAt) - started) / 1000;
    const latencies = Array.from(receivedAt, (t, k) => t - publishedAt[k]!);
    return { eventsPerSecond: count / elapsed, latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99), delivered, cpuUsPerEvent };
  } finally {
    client.disconnect();
    await server.close();
    httpServer.closeAllConnections();
  }
}

export interface PeerFigures {
  socketio: { eventsPerSecond: number; latencyP50Ms: number; latencyP99Ms: number };
  ratio: number;
}

/** One mode's reps, summarised. */
export interface PeerModeDetail {
  window: number;
  eventsPerSecond: Spread;
  latencyP50Ms: number;
  latencyP99Ms: Spread;
  cpuUsPerEvent: Spread;
  options: string;
}

export interface PeerDetail {
  /** The figure: wsim's guarantees (recovery-stored events, cumulative acks). */
  socketio: PeerModeDetail & { version: string; events: number };
  /** Per-message ack callbacks, as measured before 2026-11-30 (those packets are not stored for recovery). */
  socketioPerMessageAck: PeerModeDetail & { ratio: number };
  /** wsim's burst p99 on the same workload, for the like-for-like latency comparison. */
  wsimBurstLatencyP99Ms: number;
}

const OPTIONS: Record<AckMode, string> = {
  cumulative: `connectionStateRecovery: {}, plain emits (stored for recovery), cumulative client acks after ${DEFAULT_CLIENT_CONFIG.ackDelayMs} ms or ${DEFAULT_CLIENT_CONFIG.ackEveryFrames} frames, window 2048, transports: [websocket], perMessageDeflate: false`,
  'per-message': 'connectionStateRecovery: {}, per-message ack callbacks (not stored for recovery), window 512, transports: [websocket], perMessageDeflate: false',
};

function summary(mode: AckMode, runs: Run[]): PeerModeDetail {
  return {
    window: WINDOW[mode],
    eventsPerSecond: roundSpread(spread(runs.map((r) => r.eventsPerSecond)), 4),
    latencyP50Ms: round(spread(runs.map((r) => r.latencyP50Ms)).median),
    latencyP99Ms: roundSpread(spread(runs.map((r) => r.latencyP99Ms))),
    cpuUsPerEvent: roundSpread(spread(runs.map((r) => r.cpuUsPerEvent!))),
    options: OPTIONS[mode],
  };
}

/** Socket.IO's reps on the burst workload, both ack modes in turn; the ratio against wsim's burst rate measured just before. */
export async function measurePeer(options: { events: number; reps: number }, wsim: { eventsPerSecond: number; burstLatencyP99Ms: number }): Promise<{ figures: PeerFigures; detail: PeerDetail }> {
  await socketIoBurst(Math.min(2000, options.events), 'cumulative'); // warm-up
  await socketIoBurst(Math.min(2000, options.events), 'per-message');
  const runs: Record<AckMode, Run[]> = { cumulative: [], 'per-message': [] };
  for (let i = 0; i < options.reps; i++) {
    for (const mode of ['cumulative', 'per-message'] as const) {
      const r = await socketIoBurst(options.events, mode);
      runs[mode].push(r);
      log(`peers: socket.io (${mode} acks) rep ${i + 1}/${options.reps}: ${Math.round(r.eventsPerSecond)} events/s (p50 ${r.latencyP50Ms.toFixed(1)} ms, p99 ${r.latencyP99Ms.toFixed(1)} ms, ${r.cpuUsPerEvent!.toFixed(1)} CPU µs/event)`);
    }
  }
  const figure = summary('cumulative', runs.cumulative);
  const perMessage = summary('per-message', runs['per-message']);
  const { createRequire } = await import('node:module');
  const version = (createRequire(import.meta.url)('socket.io/package.json') as { version: string }).version;
  return {
    figures: {
      socketio: { eventsPerSecond: Math.round(figure.eventsPerSecond.median), latencyP50Ms: figure.latencyP50Ms, latencyP99Ms: round(figure.latencyP99Ms.median) },
      ratio: round(wsim.eventsPerSecond / figure.eventsPerSecond.median),
    },
    detail: {
      socketio: { version, events: options.events, ...figure },
      socketioPerMessageAck: { ...perMessage, ratio: round(wsim.eventsPerSecond / perMessage.eventsPerSecond.median) },
      wsimBurstLatencyP99Ms: wsim.burstLatencyP99Ms,
    },
  };
}
