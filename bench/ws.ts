/**
 * Real sockets on loopback: the real endpoints (hub + `createServerHandler`
 * behind `WsTransport.start()`, client machines through `createClient`), the
 * machines on real time (the hub and its sessions on `realClock`).
 *
 * - burst: one user, N critical events published 100 per setImmediate, as
 *   fast as the protocol allows (window, acks, batching): delivered events
 *   per second (first publish → last delivery) and latency publish → app.
 *   The headline publishes each event alone (one PUBLISH each, like
 *   Socket.IO's per-event emits: a session sends each one at once); the
 *   batched burst publishes each tick's 100 as one PUBLISH (as `POST
 *   /v1/publish` with an array does), which the session sends as batches;
 * - seed load: 20 users × 50 events/s each (the seed's load) for a few
 *   seconds: latency publish → app (the DESIGN figures latencyP50Ms and
 *   latencyP99Ms);
 * - raw: a bare `ws` server sends the same N event frames (wsim's encoded
 *   text), 100 per setImmediate, to a bare `ws` client on the same loopback:
 *   messages per second received.
 */
import { once } from 'node:events';
import { createActor } from 'xstate';
import { WebSocket, WebSocketServer } from 'ws';
import type { AgentEvent } from '../machines/frames.ts';
import type { HubRef } from '../machines/hub.ts';
import { Directory } from '../machines/identity.ts';
import { Random } from '../sim/random.ts';
import type { ClientConnectionMachine } from '../machines/client-connection.ts';
import { createClient, type AppSink, type ClientActor, type MessageInbox } from '../transport/client-endpoint.ts';
import { realClock } from '../transport/real-clock.ts';
import { createServerHandler, servingHub } from '../transport/server-endpoint.ts';
import { WsTransport } from '../transport/ws-transport.ts';
import { log, percentile, round, roundSpread, sleep, spread, within, type Spread } from './stats.ts';
import { criticalEvent, eventFrameText, indexOf, pace, streamOf } from './workload.ts';

const tokenOf = (user: string) => `tok:t0:${user}`;

interface Loopback {
  hub: HubRef;
  /** What the server put on its links: messages and characters (a batch frame is one message). */
  wire: { messages: number; chars: number };
  transport: WsTransport;
  clients: ClientActor[];
  close(): Promise<void>;
}

/** A client machine variant for the burst (prototypes): the machine, how it hears messages, and a hook on each client made. */
export interface ClientVariant {
  machine: ClientConnectionMachine;
  inbox: () => MessageInbox;
  made(actor: ClientActor, app: AppSink): void;
}

/** Hub behind a ws server on 127.0.0.1:0, and one client machine per user whose app hears `deliver`. */
async function loopback(users: string[], logCapacity: number, deliver: (user: string, event: { run: string; idx: number }) => void, variant?: ClientVariant): Promise<Loopback> {
  const directory = new Directory();
  for (const user of users) directory.add(tokenOf(user), { tenant: 't0', user, role: 'admin', threads: '*' });
  const transport = await WsTransport.start({ authenticate: (token) => directory.authenticate(token) });
  // real time, with a zero delay (the session's flush) on setImmediate rather than Node's 1 ms setTimeout
  const hub = createActor(servingHub(), { input: { epoch: 'e1', directory, logCapacity }, clock: realClock }).start();
  const wire = { messages: 0, chars: 0 };
  const observer = {
    sent(_link: string, data: string) {
      wire.messages++;
      wire.chars += data.length;
    },
  };
  transport.listen(createServerHandler({ hub: () => hub, observer }));
  const clients = users.map((user, i) => {
    const id = `t0/${user}/0`;
    const app: AppSink = {
      deliver: (_thread, _seq, event) => {
        deliver(user, event);
        return { ok: true };
      },
      appFailed: () => {}, deadLetter: () => {}, resync: () => {}, rejected: () => {},
    };
    const actor = createClient({
      id, endpoint: id, token: tokenOf(user), threads: ['th0'], transport, random: Random.seeded(i + 1), app,
      ...(variant ? { machine: variant.machine, inbox: variant.inbox } : {}),
    });
    variant?.made(actor, app);
    actor.start();
    actor.send({ type: 'START' });
    return actor;
  });
  // open and subscribed on the server: routing reaches every client from now on
  const deadline = performance.now() + 10_000;
  const ready = () => [...hub.getSnapshot().context.sessions.values()].filter((s) => Object.keys(s.getSnapshot().context.streams).length > 0).length === users.length;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error('ws: clients did not subscribe within 10 s');
    await sleep(5);
  }
  return {
    hub, transport, clients, wire,
    async close() {
      for (const c of clients) c.stop();
      await transport.close();
      hub.stop();
    },
  };
}

export interface Run {
  eventsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  delivered: number;
  /** Server → client WebSocket messages per delivered event (wsim only: batching packs several events in one). */
  messagesPerEvent?: number;
  /** CPU time of the process (both ends) per event, µs: the work, which a loaded machine changes less than the rate. */
  cpuUsPerEvent?: number;
}

/** CPU time used by this process so far (user + system), µs. */
export const cpuMicros = (): number => {
  const used = process.cpuUsage();
  return used.user + used.system;
};

/** Events published per setImmediate in a burst. */
const PER_TICK = 100;

/** One user, `count` events as fast as the protocol allows: each its own PUBLISH, or (`batched`) each tick's in one. */
export async function wsimBurst(count: number, variant?: ClientVariant, batched = false): Promise<Run> {
  const events = streamOf(count);
  const publishedAt = new Float64Array(count);
  const receivedAt = new Float64Array(count);
  let delivered = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const world = await loopback(
    ['u0'],
    count + 16,
    (_user, event) => {
      receivedAt[indexOf(event)] = performance.now();
      if (++delivered === count) done();
    },
    variant,
  );
  try {
    const started = performance.now();
    const cpu = cpuMicros();
    let tick: AgentEvent[] = [];
    await pace(count, PER_TICK, (k) => {
      publishedAt[k] = performance.now();
      if (!batched) return world.hub.send({ type: 'PUBLISH', event: events[k]! });
      tick.push(events[k]!);
      if (tick.length < PER_TICK && k < count - 1) return;
      world.hub.send({ type: 'PUBLISH', events: tick });
      tick = [];
    });
    await within(all, 60_000);
    if (delivered < count) throw new Error(`ws burst: ${delivered}/${count} delivered in 60 s`);
    const cpuUsPerEvent = (cpuMicros() - cpu) / count;
    const elapsed = (Math.max(...receivedAt) - started) / 1000;
    const latencies = Array.from(receivedAt, (t, k) => t - publishedAt[k]!);
    return { eventsPerSecond: count / elapsed, latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99), delivered, messagesPerEvent: world.wire.messages / count, cpuUsPerEvent };
  } finally {
    await world.close();
  }
}

/** `users` users, each publishing `rateHz` events per second for `seconds`: latency at a steady load. */
export async function wsimSteady(users: number, rateHz: number, seconds: number): Promise<Run> {
  const names = Array.from({ length: users }, (_, i) => `u${i}`);
  const perUser = rateHz * seconds;
  const publishedAt = names.map(() => new Float64Array(perUser));
  const latencies: number[] = [];
  const byUser = new Map(names.map((n, i) => [n, i]));
  const world = await loopback(names, perUser + 16, (user, event) => {
    const u = byUser.get(user)!;
    latencies.push(performance.now() - publishedAt[u]![indexOf(event)]!);
  });
  try {
    const interval = 1000 / rateHz;
    const started = performance.now();
    // each user on its own phase within the period, as independent agents would be
    await Promise.all(
      names.map(
        (user, u) =>
          new Promise<void>((resolve) => {
            let k = 0;
            const next = () => {
              publishedAt[u]![k] = performance.now();
              world.hub.send({ type: 'PUBLISH', event: criticalEvent('t0', user, 'th0', k) });
              if (++k >= perUser) return resolve();
              setTimeout(next, Math.max(0, started + (u / users) * interval + k * interval - performance.now()));
            };
            setTimeout(next, (u / users) * interval);
          }),
      ),
    );
    const deadline = performance.now() + 10_000;
    while (latencies.length < users * perUser && performance.now() < deadline) await sleep(10);
    const elapsed = (performance.now() - started) / 1000;
    return { eventsPerSecond: latencies.length / elapsed, latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99), delivered: latencies.length };
  } finally {
    await world.close();
  }
}

/** A bare ws server sends the same event frames to a bare ws client: messages per second received, and CPU µs per message. */
export async function rawWs(count: number): Promise<{ messagesPerSecond: number; cpuUsPerMessage: number }> {
  const frames = streamOf(count).map((e, k) => eventFrameText(e, k));
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  const port = (wss.address() as { port: number }).port;
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  let received = 0;
  let last = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  client.on('message', () => {
    if (++received === count) {
      last = performance.now();
      done();
    }
  });
  const [server] = (await once(wss, 'connection')) as [WebSocket];
  await once(client, 'open').catch(() => undefined);
  if (client.readyState !== WebSocket.OPEN) await once(client, 'open');
  try {
    const started = performance.now();
    const cpu = cpuMicros();
    await pace(count, 100, (k) => server.send(frames[k]!));
    await within(all, 60_000);
    if (received < count) throw new Error(`raw ws: ${received}/${count} received in 60 s`);
    return { messagesPerSecond: count / ((last - started) / 1000), cpuUsPerMessage: (cpuMicros() - cpu) / count };
  } finally {
    client.terminate();
    server.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

export interface WsFigures {
  eventsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  rawEventsPerSecond: number;
  ratio: number;
}

/** A burst's figures over its reps. */
export interface BurstDetail {
  events: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  eventsPerSecond: Spread;
  latencyP99MsSpread: Spread;
  cpuUsPerEvent: Spread;
  messagesPerEvent: number;
}

export interface WsDetail {
  /** Each event its own PUBLISH (the headline: like-for-like with Socket.IO's per-event emits). */
  burst: BurstDetail;
  /** Each tick's 100 events in one PUBLISH (an array publish): sent as batch frames. */
  burstBatched: BurstDetail;
  seedLoad: { users: number; rateHz: number; seconds: number; delivered: number; latencyP50Ms: Spread; latencyP99Ms: Spread };
  raw: { messagesPerSecond: Spread; cpuUsPerMessage: Spread };
}

function burstDetail(events: number, bursts: readonly Run[]): BurstDetail {
  const median = (f: (b: Run) => number) => round(spread(bursts.map(f)).median);
  return {
    events,
    latencyP50Ms: median((b) => b.latencyP50Ms),
    latencyP99Ms: median((b) => b.latencyP99Ms),
    eventsPerSecond: roundSpread(spread(bursts.map((b) => b.eventsPerSecond)), 4),
    latencyP99MsSpread: roundSpread(spread(bursts.map((b) => b.latencyP99Ms))),
    cpuUsPerEvent: roundSpread(spread(bursts.map((b) => b.cpuUsPerEvent!))),
    messagesPerEvent: median((b) => b.messagesPerEvent!),
  };
}

export async function measureWs(options: { events: number; reps: number; steadySeconds: number; steadyReps: number }): Promise<{ figures: WsFigures; detail: WsDetail }> {
  await wsimBurst(Math.min(2000, options.events)); // warm the JIT and the sockets
  await rawWs(Math.min(2000, options.events));
  const bursts: Run[] = [];
  const batchedBursts: Run[] = [];
  const raws: Array<{ messagesPerSecond: number; cpuUsPerMessage: number }> = [];
  const said = (b: Run) => `${Math.round(b.eventsPerSecond)} events/s (p50 ${b.latencyP50Ms.toFixed(1)} ms, p99 ${b.latencyP99Ms.toFixed(1)} ms, ${b.cpuUsPerEvent!.toFixed(1)} CPU µs/event, ${b.messagesPerEvent!.toFixed(2)} messages/event)`;
  for (let i = 0; i < options.reps; i++) {
    bursts.push(await wsimBurst(options.events));
    batchedBursts.push(await wsimBurst(options.events, undefined, true));
    raws.push(await rawWs(options.events));
    const r = raws.at(-1)!;
    log(`ws: rep ${i + 1}/${options.reps}: wsim ${said(bursts.at(-1)!)}, batched publish ${said(batchedBursts.at(-1)!)}, raw ws ${Math.round(r.messagesPerSecond)} messages/s (${r.cpuUsPerMessage.toFixed(1)} CPU µs/message)`);
  }
  const steady: Run[] = [];
  for (let i = 0; i < options.steadyReps; i++) {
    steady.push(await wsimSteady(20, 50, options.steadySeconds));
    const s = steady.at(-1)!;
    log(`ws: seed load rep ${i + 1}/${options.steadyReps}: 20 users × 50 events/s, ${s.delivered} delivered, p50 ${s.latencyP50Ms.toFixed(2)} ms, p99 ${s.latencyP99Ms.toFixed(2)} ms`);
  }
  const eps = spread(bursts.map((b) => b.eventsPerSecond));
  const raw = spread(raws.map((r) => r.messagesPerSecond));
  const p50 = spread(steady.map((s) => s.latencyP50Ms));
  const p99 = spread(steady.map((s) => s.latencyP99Ms));
  return {
    figures: {
      eventsPerSecond: Math.round(eps.median),
      latencyP50Ms: round(p50.median),
      latencyP99Ms: round(p99.median),
      rawEventsPerSecond: Math.round(raw.median),
      ratio: round(eps.median / raw.median),
    },
    detail: {
      burst: burstDetail(options.events, bursts),
      burstBatched: burstDetail(options.events, batchedBursts),
      seedLoad: { users: 20, rateHz: 50, seconds: options.steadySeconds, delivered: steady.at(-1)?.delivered ?? 0, latencyP50Ms: roundSpread(p50), latencyP99Ms: roundSpread(p99) },
      raw: { messagesPerSecond: roundSpread(raw, 4), cpuUsPerMessage: roundSpread(spread(raws.map((r) => r.cpuUsPerMessage))) },
    },
  };
}
