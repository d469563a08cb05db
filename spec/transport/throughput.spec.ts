/**
 * A quick loopback measurement (printed, loosely asserted): one user, 5,000
 * events published at once, delivered events per second and latency from
 * publish to the app over real sockets and the real machines.
 */
import { expect } from 'chai';
import { isCritical } from '../../machines/frames.ts';
import { keyOf, percentile, RealWorld, sleep, streamEvents, waitFor } from './harness.ts';

const N = 5000;

/** `batch` events every `everyMs` (0 = all at once). */
async function measure(world: RealWorld, label: string, batch = N, everyMs = 0): Promise<void> {
  const client = world.client({ tenant: 't1', user: 'alice', threads: ['th0'] });
  await world.waitOpen(client);
  const events = streamEvents('t1', 'alice', 'th0', N, 64);
  const started = performance.now();
  for (let i = 0; i < N; i += batch) {
    world.publish(events.slice(i, i + batch));
    if (everyMs > 0) await sleep(everyMs);
  }
  // cheap poll: the measurement must not steal the event loop from what it measures
  const last = events[N - 1]!;
  await waitFor(() => client.app.received.at(-1)?.event.run === last.run && client.app.received.at(-1)?.event.idx === last.idx, 'the last event', 15_000);
  const elapsed = performance.now() - started;
  const critical = events.filter((e) => isCritical(e.type)).map(keyOf);
  const criticalSet = new Set(critical);
  const received = client.app.received;
  const latencies = received.map((r) => r.at - world.publishedAt.get(keyOf(r.event))!);
  // critical events: all, once, in order; agent_thinking may be coalesced under a burst (by design)
  expect(received.map((r) => keyOf(r.event)).filter((k) => criticalSet.has(k))).to.deep.equal(critical);
  const stats = client.actor.getSnapshot().context.stats;
  console.log(
    `      [ws ${label}] ${received.length}/${N} delivered (${N - received.length} thinking coalesced) in ${elapsed.toFixed(0)} ms = ` +
      `${Math.round((received.length / elapsed) * 1000)} events/s; latency p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(1)} ms; reconnects ${stats.reconnects}, duplicates dropped ${stats.duplicates}`,
  );
}

describe('transport: loopback throughput (measurement)', function () {
  this.timeout(20_000);
  let world: RealWorld | undefined;

  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('bulk_event_delivery_performance: 5,000 events at once, default session config', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    await measure(world, 'defaults');
  });

  it('bulk_event_delivery_performance: 5,000 events at once, shed cap above the burst', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }], hub: { sessionConfig: { shedAbove: 20_000 } } });
    await measure(world, 'shedAbove 20000');
  });

  it('high_frequency_message_handling: 5,000 events paced at 50 every 5 ms', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    await measure(world, 'paced 10k/s offered', 50, 5);
  });
});
