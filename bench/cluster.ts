/**
 * The `cluster` figures (issue 16): events per second and p99 latency through
 * three nodes and one Redis on loopback, against Socket.IO 4.8 with
 * `@socket.io/redis-streams-adapter` and connection-state recovery on, same
 * workload, same run. The workload: one subscriber on node 0; `count`
 * critical events published 100 per setImmediate, round-robin to nodes 0, 1
 * and 2 (two thirds cross Redis to reach the subscriber). wsim acknowledges
 * each publish only once Redis stored it; Socket.IO broadcasts to a room.
 * Latency: publish call → the subscriber's callback.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { createWsimClient } from '../src/client.ts';
import { createWsimServer, type WsimServer } from '../src/server.ts';
import { RedisStore } from '../transport/redis-store.ts';
// the throwaway Redis of the store specs (free port, no persistence, killed after)
import { RedisServer } from './redis-server.ts';
import { log, percentile, round, spread, type Spread } from './stats.ts';
import { eventFrameText, indexOf, pace, streamOf } from './workload.ts';

const NODES = 3;
const TOKEN = 'bench';
const LIMIT_MS = 60_000;

export interface ClusterRun {
  eventsPerSecond: number;
  latencyP99Ms: number;
}

/** DESIGN.md's `cluster` figures: wsim's through the nodes, Socket.IO's with its Redis Streams adapter, and their ratio. */
export interface ClusterFigures {
  nodes: number;
  eventsPerSecond: number;
  latencyP99Ms: number;
  socketioRedis: ClusterRun;
  /** wsim / Socket.IO events per second. */
  ratio: number;
}

export interface ClusterDetail {
  events: number;
  nodes: number;
  wsim: { eventsPerSecond: Spread; latencyP99Ms: Spread };
  socketio: { eventsPerSecond: Spread; latencyP99Ms: Spread; options: string };
}

/** Figures of one run from its timestamps. */
function figuresOf(publishedAt: Float64Array, receivedAt: Float64Array, started: number): ClusterRun {
  const latencies = Array.from(receivedAt, (r, k) => r - publishedAt[k]!);
  const last = Math.max(...receivedAt);
  return { eventsPerSecond: receivedAt.length / ((last - started) / 1000), latencyP99Ms: percentile(latencies, 99) };
}

/** Resolves once `done()` holds, checking every ms; rejects past LIMIT_MS. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + LIMIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`cluster bench: ${what} not within ${LIMIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function wsimCluster(redisUrl: string, count: number): Promise<ClusterRun> {
  // what a producer posts: the event without its hash (the server computes it)
  const events = streamOf(count).map(({ hash: _hash, ...rest }) => rest);
  const publishedAt = new Float64Array(count);
  const receivedAt = new Float64Array(count);
  const nodes: WsimServer[] = [];
  for (let i = 0; i < NODES; i++) {
    nodes.push(await createWsimServer({ store: new RedisStore({ url: redisUrl, capacity: count + 10 }), node: `n${i}`, tokens: { [TOKEN]: { tenant: 't0', user: 'u0', role: 'admin', threads: '*' } } }));
  }
  let delivered = 0;
  const client = createWsimClient({ url: nodes[0]!.url, token: TOKEN, threads: ['th0'], onEvent: (e) => {
    receivedAt[indexOf(e)] = performance.now();
    delivered++;
  } }).start();
  try {
    await until(() => client.state === 'open', 'the wsim client open');
    await new Promise((resolve) => setTimeout(resolve, 100)); // subscribed
    const started = performance.now();
    let failed = 0;
    let why = '';
    await pace(count, 100, (k) => {
      publishedAt[k] = performance.now();
      void nodes[k % NODES]!.publishStored(events[k]).then((r) => {
        if (r.ok) return;
        failed++;
        why ||= JSON.stringify(r);
      });
    });
    await until(() => delivered >= count || failed > 0, `${count} wsim deliveries`);
    if (failed > 0) throw new Error(`${failed} wsim publishes failed, the first: ${why}`);
    return figuresOf(publishedAt, receivedAt, started);
  } finally {
    client.stop();
    for (const node of nodes) await node.close();
  }
}

async function socketIoCluster(redisUrl: string, count: number): Promise<ClusterRun> {
  const { Server } = await import('socket.io');
  const { io } = await import('socket.io-client');
  const { createAdapter } = await import('@socket.io/redis-streams-adapter');
  const frames = streamOf(count).map((e, k) => eventFrameText(e, k));
  const publishedAt = new Float64Array(count);
  const receivedAt = new Float64Array(count);
  const redisClients: Array<{ quit(): Promise<unknown> }> = [];
  const servers: Array<{ io: import('socket.io').Server; http: http.Server }> = [];
  for (let i = 0; i < NODES; i++) {
    const redis = createClient({ url: redisUrl });
    await redis.connect();
    redisClients.push(redis as { quit(): Promise<unknown> });
    const httpServer = http.createServer();
    const server = new Server(httpServer, { adapter: createAdapter(redis), connectionStateRecovery: {}, transports: ['websocket'], perMessageDeflate: false, serveClient: false });
    server.on('connection', (socket) => void socket.join('th0'));
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    servers.push({ io: server, http: httpServer });
  }
  let delivered = 0;
  const client = io(`http://127.0.0.1:${(servers[0]!.http.address() as AddressInfo).port}`, { transports: ['websocket'] });
  client.on('event', (frame: string) => {
    const parsed = JSON.parse(frame) as { event: { run: string; idx: number } };
    receivedAt[indexOf(parsed.event)] = performance.now();
    delivered++;
  });
  try {
    await until(() => client.connected, 'the socket.io client connected');
    await new Promise((resolve) => setTimeout(resolve, 100)); // joined
    const started = performance.now();
    await pace(count, 100, (k) => {
      publishedAt[k] = performance.now();
      servers[k % NODES]!.io.to('th0').emit('event', frames[k]!);
    });
    await until(() => delivered >= count, `${count} socket.io deliveries`);
    return figuresOf(publishedAt, receivedAt, started);
  } finally {
    client.close();
    for (const s of servers) await new Promise((resolve) => s.io.close(() => resolve(undefined)));
    for (const r of redisClients) await r.quit().catch(() => {});
  }
}

/** `reps` alternating runs of each on one Redis (flushed between runs); medians and spreads. */
export async function measureCluster(options: { events: number; reps: number }): Promise<{ figures: ClusterFigures; detail: ClusterDetail }> {
  const redis = await RedisServer.start();
  const wsim: ClusterRun[] = [];
  const socketio: ClusterRun[] = [];
  try {
    for (let i = 0; i < options.reps; i++) {
      await redis.restart();
      wsim.push(await wsimCluster(redis.url, options.events));
      log(`cluster: wsim rep ${i + 1}/${options.reps}: ${Math.round(wsim.at(-1)!.eventsPerSecond)} events/s (p99 ${wsim.at(-1)!.latencyP99Ms.toFixed(1)} ms)`);
      await redis.restart();
      socketio.push(await socketIoCluster(redis.url, options.events));
      log(`cluster: socket.io rep ${i + 1}/${options.reps}: ${Math.round(socketio.at(-1)!.eventsPerSecond)} events/s (p99 ${socketio.at(-1)!.latencyP99Ms.toFixed(1)} ms)`);
    }
  } finally {
    await redis.stop();
  }
  const eps = (runs: ClusterRun[]) => spread(runs.map((r) => r.eventsPerSecond));
  const p99 = (runs: ClusterRun[]) => spread(runs.map((r) => r.latencyP99Ms));
  const run = (runs: ClusterRun[]): ClusterRun => ({ eventsPerSecond: Math.round(eps(runs).median), latencyP99Ms: round(p99(runs).median) });
  return {
    figures: { nodes: NODES, ...run(wsim), socketioRedis: run(socketio), ratio: round(eps(wsim).median / eps(socketio).median) },
    detail: {
      events: options.events,
      nodes: NODES,
      wsim: { eventsPerSecond: eps(wsim), latencyP99Ms: p99(wsim) },
      socketio: { eventsPerSecond: eps(socketio), latencyP99Ms: p99(socketio), options: 'redis-streams-adapter, connectionStateRecovery: {}, transports: [websocket], perMessageDeflate: false, broadcast to a room' },
    },
  };
}

// `node --import tsx bench/cluster.ts [events] [reps]`: the figures alone, as JSON
if (import.meta.url === `file://${process.argv[1]}`) {
  const [events = '2000', reps = '2'] = process.argv.slice(2);
  measureCluster({ events: Number(events), reps: Number(reps) }).then((r) => console.log(JSON.stringify(r.figures)), (e: Error) => {
    console.error(`cluster bench: ${e.message}`);
    process.exit(1);
  });
}
