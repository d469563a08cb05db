/**
 * Real sockets on loopback: the real endpoints (hub + `createServerHandler`
 * behind `WsTransport.start()`, client machines through `createClient`), the
 * machines on XState's real clock.
 *
 * - burst: one user, N critical events published 100 per setImmediate, as
 *   fast as the protocol allows (window, acks, batching): delivered events
 *   per second (first publish → last delivery) and latency publish → app;
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
import { hubMachine, type HubRef } from '../machines/hub.ts';
import { Directory } from '../machines/identity.ts';
import { Random } from '../sim/random.ts';
import { createClient, type ClientActor } from '../transport/client-endpoint.ts';
import { createServerHandler, servingHub } from '../transport/server-endpoint.ts';
import { WsTransport } from '../transport/ws-transport.ts';
import { log, percentile, round, roundSpread, sleep, spread, within, type Spread } from './stats.ts';
import { criticalEvent, eventFrameText, indexOf, pace, streamOf } from './workload.ts';

const tokenOf = (user: string) => `tok:t0:${user}`;

interface Loopback {
  hub: HubRef;
  transport: WsTransport;
  clients: ClientActor[];
  close(): Promise<void>;
}

/** Hub behind a ws server on 127.0.0.1:0, and one client machine per user whose app hears `deliver`. */
async function loopback(users: string[], logCapacity: number, deliver: (user: string, event: { run: string; idx: number }) => void): Promise<Loopback> {
  const directory = new Directory();
  for (const user of users) directory.add(tokenOf(user), { tenant: 't0', user, role: 'admin', threads: '*' });
  const transport = await WsTransport.start({ authenticate: (token) => directory.authenticate(token) });
  const hub = createActor(servingHub(), { input: { epoch: 'e1', directory, logCapacity } }).start();
  transport.listen(createServerHandler({ hub: () => hub }));
  const clients = users.map((user, i) => {
    const id = `t0/${user}/0`;
    const actor = createClient({
      id, endpoint: id, token: tokenOf(user), threads: ['th0'], transport, random: Random.seeded(i + 1),
      app: {
        deliver: (_thread, _seq, event) => {
          deliver(user, event);
          return { ok: true };
        },
        appFailed: () => {}, deadLetter: () => {}, resync: () => {}, rejected: () => {},
      },
    });
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
    hub, transport, clients,
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
}

/** One user, `count` events as fast as the protocol allows. */
export async function wsimBurst(count: number): Promise<Run> {
  const events = streamOf(count);
  const publishedAt = new Float64Array(count);
  const receivedAt = new Float64Array(count);
  let delivered = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const world = await loopback(['u0'], count + 16, (_user, event) => {
    receivedAt[indexOf(event)] = performance.now();
    if (++delivered === count) done();
  });
  try {
    const started = performance.now();
    await pace(count, 100, (k) => {
      publishedAt[k] = performance.now();
      world.hub.send({ type: 'PUBLISH', event: events[k]! });
    });
    await within(all, 60_000);
    if (delivered < count) throw new Error(`ws burst: ${delivered}/${count} delivered in 60 s`);
    const elapsed = (Math.max(...receivedAt) - started) / 1000;
    const latencies = Array.from(receivedAt, (t, k) => t - publishedAt[k]!);
    return { eventsPerSecond: count / elapsed, latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99), delivered };
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

/** A bare ws server sends the same event frames to a bare ws client: messages per second received. */
export async function rawWs(count: number): Promise<number> {
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
    await pace(count, 100, (k) => server.send(frames[k]!));
    await within(all, 60_000);
    if (received < count) throw new Error(`raw ws: ${received}/${count} received in 60 s`);
    return count / ((last - started) / 1000);
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

export interface WsDetail {
  burst: { events: number; latencyP50Ms: number; latencyP99Ms: number; eventsPerSecond: Spread; latencyP99MsSpread: Spread };
  seedLoad: { users: number; rateHz: number; seconds: number; delivered: number; latencyP50Ms: Spread; latencyP99Ms: Spread };
  raw: { messagesPerSecond: Spread };
}

export async function measureWs(options: { events: number; reps: number; steadySeconds: number; steadyReps: number }): Promise<{ figures: WsFigures; detail: WsDetail }> {
  await wsimBurst(Math.min(2000, options.events)); // warm the JIT and the sockets
  await rawWs(Math.min(2000, options.events));
  const bursts: Run[] = [];
  const raws: number[] = [];
  for (let i = 0; i < options.reps; i++) {
    bursts.push(await wsimBurst(options.events));
    raws.push(await rawWs(options.events));
    const b = bursts.at(-1)!;
    log(`ws: rep ${i + 1}/${options.reps}: wsim ${Math.round(b.eventsPerSecond)} events/s (p50 ${b.latencyP50Ms.toFixed(1)} ms, p99 ${b.latencyP99Ms.toFixed(1)} ms), raw ws ${Math.round(raws.at(-1)!)} messages/s`);
  }
  const steady: Run[] = [];
  for (let i = 0; i < options.steadyReps; i++) {
    steady.push(await wsimSteady(20, 50, options.steadySeconds));
    const s = steady.at(-1)!;
    log(`ws: seed load rep ${i + 1}/${options.steadyReps}: 20 users × 50 events/s, ${s.delivered} delivered, p50 ${s.latencyP50Ms.toFixed(2)} ms, p99 ${s.latencyP99Ms.toFixed(2)} ms`);
  }
  const eps = spread(bursts.map((b) => b.eventsPerSecond));
  const raw = spread(raws);
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
      burst: {
        events: options.events,
        latencyP50Ms: round(spread(bursts.map((b) => b.latencyP50Ms)).median),
        latencyP99Ms: round(spread(bursts.map((b) => b.latencyP99Ms)).median),
        eventsPerSecond: roundSpread(eps, 4),
        latencyP99MsSpread: roundSpread(spread(bursts.map((b) => b.latencyP99Ms))),
      },
      seedLoad: { users: 20, rateHz: 50, seconds: options.steadySeconds, delivered: steady.at(-1)?.delivered ?? 0, latencyP50Ms: roundSpread(p50), latencyP99Ms: roundSpread(p99) },
      raw: { messagesPerSecond: roundSpread(raw, 4) },
    },
  };
}
