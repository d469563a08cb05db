import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import WebSocket from 'ws';
import { createCapture, freePort, inspectRun, InspectUsage, plain } from '../../cli/inspect.ts';
import { findScenario } from '../../sim/scenarios/index.ts';
import { runAt } from '../../sim/scenario.ts';
import { invoke } from './invoke.ts';

interface Message {
  type: string;
  name?: string;
  sessionId: string;
  snapshot?: { status?: string; value?: unknown; context?: unknown };
  event?: { type: string };
}

const SCENARIO = 'mission_critical_events_delivery_guaranteed';

describe('cli/inspect', function () {
  this.timeout(20_000);

  it('streams actor, snapshot and event messages of the hub, sessions and clients through the relay', async () => {
    const received: Message[] = [];
    let client: WebSocket | undefined;
    const done = await inspectRun(
      { scenario: SCENARIO, seed: 42, path: '0', port: 0, pace: 2000 },
      {
        ready: async (s) => {
          expect(s.url).to.equal(`http://localhost:${s.port}`);
          expect(s.wsUrl).to.equal(`ws://localhost:${s.port}`);
          client = new WebSocket(s.wsUrl);
          client.on('message', (data) => received.push(JSON.parse(String(data)) as Message));
          await new Promise((resolve, reject) => {
            client!.once('open', resolve);
            client!.once('error', reject);
          });
        },
      },
    );
    // the relay forwards as it receives; give the last frames a moment
    for (let i = 0; i < 50 && received.length < done.sent; i++) await new Promise((r) => setTimeout(r, 20));
    client?.close();

    expect(done.sent).to.equal(done.events);
    expect(received).to.have.length(done.sent);
    expect(done.passed).to.equal(true);
    // the same run as `wsim replay` shows: inspection does not perturb the world
    expect(done.traceHash).to.equal(runAt(findScenario(SCENARIO)!, { seed: 42, path: '0' })!.traceHash);

    const actors = new Map(received.filter((m) => m.type === '@xstate.actor').map((m) => [m.name!, m.sessionId]));
    const hub = actors.get('hub');
    const clients = [...actors.keys()].filter((n) => /^t\d+\/u\d+\/\d+$/.test(n));
    // sessions are named by the server's own ids (drawn from the world's PRNG)
    const sessions = [...actors.keys()].filter((n) => /^s-[0-9a-z]+$/.test(n));
    expect(hub, [...actors.keys()].join(' ')).to.be.a('string');
    expect(clients).to.not.be.empty;
    expect(sessions).to.not.be.empty;
    expect([...actors.keys()].some((n) => n.startsWith('run:'))).to.equal(true);
    for (const name of ['hub', clients[0]!, sessions[0]!]) {
      const id = actors.get(name)!;
      const snapshots = received.filter((m) => m.type === '@xstate.snapshot' && m.sessionId === id);
      const events = received.filter((m) => m.type === '@xstate.event' && m.sessionId === id);
      expect(snapshots, name).to.not.be.empty;
      expect(events, name).to.not.be.empty;
      expect(snapshots.some((m) => m.snapshot?.value !== undefined && m.snapshot.context !== undefined), name).to.equal(true);
    }
    // a client goes through its handshake, as the inspector will draw it
    const clientId = actors.get(clients[0]!)!;
    const values = received.filter((m) => m.type === '@xstate.snapshot' && m.sessionId === clientId).map((m) => JSON.stringify(m.snapshot?.value));
    expect(values.some((v) => v.includes('open'))).to.equal(true);
    // each actor is announced before anything happens to it
    const seen = new Set<string>();
    for (const m of received) {
      if (m.type === '@xstate.actor') seen.add(m.sessionId);
      else expect(seen.has(m.sessionId), `${m.type} before its actor`).to.equal(true);
    }
  });

  it('captures snapshots as they were at the time, stamped with simulated time', () => {
    const capture = createCapture();
    runAt(findScenario(SCENARIO)!, { seed: 42, path: '0', inspect: capture.inspect });
    const times = capture.events.map((e) => e.t);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).to.equal(true);
    expect(times.at(-1)).to.be.greaterThan(1000);
    const hub = capture.events.find((e) => e.event.type === '@xstate.actor' && (e.event as { name?: string }).name === 'hub')!.event.sessionId;
    const first = capture.events.find((e) => e.event.type === '@xstate.snapshot' && e.event.sessionId === hub)!;
    expect(JSON.stringify(first.event)).to.contain('"sessions":{}');
  });

  for (const machine of ['client', 'session']) {
    it(`keeps a ${machine}'s snapshots by reference, without a copy, and they still show its history`, () => {
      const capture = createCapture();
      runAt(findScenario(SCENARIO)!, { seed: 42, path: '0', inspect: capture.inspect });
      const actor = capture.events.find((e) => e.event.type === '@xstate.actor' && (e.event as { definition?: string }).definition?.startsWith(`{"id":"${machine}"`))!.event.sessionId;
      const snapshots = capture.events.filter((e) => e.event.type === '@xstate.snapshot' && e.event.sessionId === actor);
      // the capture holds a getter (the snapshot as it was), not a copy made at the time
      expect(Object.getOwnPropertyDescriptor(snapshots[0]!.event, 'snapshot')?.get).to.be.a('function');
      const streams = snapshots.map((e) => JSON.stringify((e.event as { snapshot?: { context?: { streams?: unknown } } }).snapshot?.context?.streams ?? {}));
      expect(new Set(streams).size, 'the streams move across the history').to.be.greaterThan(2);
      expect(streams[0]).to.equal('{}');
    });
  }

  it('makes contexts plain and bounded: Maps, actor refs, long payloads, cycles', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const out = plain({ m: new Map([['k', new Set([1, 2])]]), ref: { sessionId: 'x:1', id: 'hub', send() {} }, long: 'x'.repeat(1000), cyclic, f: function named() {} });
    expect(out).to.deep.equal({ m: { k: [1, 2] }, ref: { actor: 'hub' }, long: `${'x'.repeat(200)}…(1000 chars)`, cyclic: { a: 1, self: '[circular]' }, f: { type: 'named' } });
  });

  it('refuses a port in use and an unknown scenario', async () => {
    const port = await freePort();
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(port, r));
    try {
      let error: unknown;
      await inspectRun({ scenario: SCENARIO, seed: 1, path: '0', port, pace: 10 }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(InspectUsage);
      expect((error as Error).message).to.contain(`port ${port} is in use`);
    } finally {
      busy.close();
    }
    let error: unknown;
    await inspectRun({ scenario: 'nope', seed: 1, path: '0', port: 0, pace: 10 }).catch((e: unknown) => (error = e));
    expect((error as Error).message).to.equal("unknown scenario 'nope' (list them: wsim run --list)");
  });

  it('keeps the relay up after the replay until the person is done (hold), then closes it', async () => {
    let url = '';
    let heldFor = 0;
    const done = await inspectRun(
      { scenario: SCENARIO, seed: 42, path: '0', port: 0, pace: 5000 },
      {
        ready: (s) => void (url = s.wsUrl),
        hold: async (s) => {
          expect(s.sent).to.equal(s.events);
          const started = Date.now();
          // still up: a late viewer can connect after every event was sent
          const late = new WebSocket(url);
          await new Promise((resolve, reject) => {
            late.once('open', resolve);
            late.once('error', reject);
          });
          late.close();
          await new Promise((r) => setTimeout(r, 200));
          heldFor = Date.now() - started;
        },
      },
    );
    expect(heldFor).to.be.at.least(200);
    const after = new WebSocket(url);
    const refused = await new Promise((resolve) => {
      after.once('open', () => resolve(false));
      after.once('error', () => resolve(true));
    });
    after.terminate();
    expect(refused, 'the relay is closed once hold resolved').to.equal(true);
    expect(done.sent).to.equal(done.events);
  });

  it('wsim inspect says where to look, stays for --exit-after S after the replay, and exits 0', async () => {
    const started = Date.now();
    const r = await invoke(['inspect', '--scenario', SCENARIO, '--no-open', '--port', '0', '--wait', '0', '--pace', '5000', '--exit-after', '0.5']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^Stately inspector: http:\/\/localhost:\d+\n$/);
    expect(r.stderr).to.match(/wsim inspect: look at http:\/\/localhost:\d+ /);
    expect(r.stderr).to.match(/wsim inspect: replay done, \d+ events sent; the inspector at http:\/\/localhost:\d+ keeps them\. Leaving in 0\.5 s \(--exit-after\)/);
    expect(r.stderr).to.not.match(/\d\.\d{3,}/); // numbers rounded
    expect(Date.now() - started).to.be.at.least(500);
  });
});
