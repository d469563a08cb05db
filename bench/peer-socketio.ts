/**
 * The peer: Socket.IO 4 (server and client from npm) on the same loopback,
 * with acknowledgements and connection-state recovery on, delivering the same
 * workload as wsim's burst: the same N event frames (wsim's encoded text,
 * parsed by the client as wsim's client parses its frames), published 100 per
 * setImmediate into a queue, sent with a window of 512 unacknowledged
 * messages in flight (wsim's `windowFrames`), each acknowledged by the client
 * (Socket.IO acks are per message; wsim's are cumulative every 10 ms).
 * WebSocket transport only (no long-polling upgrade), no compression, as wsim.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { log, percentile, round, roundSpread, spread, within, type Spread } from './stats.ts';
import { eventFrameText, indexOf, pace, streamOf } from './workload.ts';
import type { Run } from './ws.ts';

export const WINDOW = 512;

export async function socketIoBurst(count: number): Promise<Run> {
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
  client.on('event', (frame: string, ack: () => void) => {
    const parsed = JSON.parse(frame) as { event: { run: string; idx: number } };
    receivedAt[indexOf(parsed.event)] = performance.now();
    ack();
    if (++delivered === count) done();
  });
  const [socket] = await new Promise<[import('socket.io').Socket]>((resolve) => server.once('connection', (s) => resolve([s])));
  if (!client.connected) await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  try {
    // producer → queue → window of WINDOW unacked emits
    let queued = 0;
    let sent = 0;
    let inflight = 0;
    const pump = () => {
      while (inflight < WINDOW && sent < queued) {
        const k = sent++;
        inflight++;
        socket.emit('event', frames[k]!, () => {
          inflight--;
          pump();
        });
      }
    };
    const started = performance.now();
    await pace(count, 100, (k) => {
      publishedAt[k] = performance.now();
      queued = k + 1;
      pump();
    });
    await within(all, 60_000);
    if (delivered < count) throw new Error(`socket.io: ${delivered}/${count} delivered in 60 s`);
    const elapsed = (Math.max(...receivedAt) - started) / 1000;
    const latencies = Array.from(receivedAt, (t, k) => t - publishedAt[k]!);
    return { eventsPerSecond: count / elapsed, latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99), delivered };
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

export interface PeerDetail {
  socketio: { version: string; events: number; window: number; eventsPerSecond: Spread; latencyP50Ms: number; latencyP99Ms: Spread; options: string };
  /** wsim's burst p99 on the same workload, for the like-for-like latency comparison. */
  wsimBurstLatencyP99Ms: number;
}

/** Socket.IO's reps on the burst workload; the ratio against wsim's burst rate measured just before. */
export async function measurePeer(options: { events: number; reps: number }, wsim: { eventsPerSecond: number; burstLatencyP99Ms: number }): Promise<{ figures: PeerFigures; detail: PeerDetail }> {
  await socketIoBurst(Math.min(2000, options.events)); // warm-up
  const runs: Run[] = [];
  for (let i = 0; i < options.reps; i++) {
    runs.push(await socketIoBurst(options.events));
    const r = runs.at(-1)!;
    log(`peers: socket.io rep ${i + 1}/${options.reps}: ${Math.round(r.eventsPerSecond)} events/s (p50 ${r.latencyP50Ms.toFixed(1)} ms, p99 ${r.latencyP99Ms.toFixed(1)} ms)`);
  }
  const eps = spread(runs.map((r) => r.eventsPerSecond));
  const p99 = spread(runs.map((r) => r.latencyP99Ms));
  const { createRequire } = await import('node:module');
  const version = (createRequire(import.meta.url)('socket.io/package.json') as { version: string }).version;
  return {
    figures: {
      socketio: { eventsPerSecond: Math.round(eps.median), latencyP50Ms: round(spread(runs.map((r) => r.latencyP50Ms)).median), latencyP99Ms: round(p99.median) },
      ratio: round(wsim.eventsPerSecond / eps.median),
    },
    detail: {
      socketio: { version, events: options.events, window: WINDOW, eventsPerSecond: roundSpread(eps, 4), latencyP50Ms: round(spread(runs.map((r) => r.latencyP50Ms)).median), latencyP99Ms: roundSpread(p99), options: 'connectionStateRecovery: {}, per-message ack callbacks, transports: [websocket], perMessageDeflate: false' },
      wsimBurstLatencyP99Ms: wsim.burstLatencyP99Ms,
    },
  };
}
