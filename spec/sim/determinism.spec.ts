import { createHash } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { assign, createActor, setup, type AnyActorRef } from 'xstate';
import { SimClock } from '../../sim/clock.ts';
import { checkDeterminism } from '../../sim/determinism.ts';
import { CALM_PLAN, type FaultPlan } from '../../sim/fault-plan.ts';
import { SimNetwork } from '../../sim/network.ts';
import { Random } from '../../sim/random.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { Trace } from '../../sim/trace.ts';
import type { Link } from '../../transport/link.ts';

const params = (runs: number): fc.Parameters<unknown> => ({
  numRuns: process.env.SIM_RUNS ? Number(process.env.SIM_RUNS) : runs,
  ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
});

// ------------------------------------------------------------ a small ping-pong world

/** What the machine may do to the outside world (the world provides it). */
interface Io {
  connect(): void;
  send(data: string): void;
  close(): void;
  backoffMs(): number;
}

/** Pings every 20 ms until it has n pongs; reconnects with random backoff when the link dies or stalls. */
const pinger = setup({
  types: {} as {
    context: { io: Io; n: number; sent: number; got: number };
    input: { io: Io; n: number };
    events: { type: 'OPEN' } | { type: 'PONG' } | { type: 'CLOSED' };
  },
  delays: { backoff: ({ context }) => context.io.backoffMs() },
  guards: {
    finished: ({ context }) => context.got >= context.n,
    stalled: ({ context }) => context.sent - context.got > 8,
  },
}).createMachine({
  context: ({ input }) => ({ io: input.io, n: input.n, sent: 0, got: 0 }),
  initial: 'connecting',
  states: {
    connecting: {
      entry: ({ context }) => context.io.connect(),
      on: { OPEN: { target: 'open', actions: assign({ sent: ({ context }) => context.got }) }, CLOSED: 'backoff' },
      after: { 300: { target: 'backoff', actions: ({ context }) => context.io.close() } },
    },
    open: {
      entry: [assign({ sent: ({ context }) => context.sent + 1 }), ({ context }) => context.io.send(`ping:${context.sent}`)],
      always: [
        { guard: 'finished', target: 'done' },
        { guard: 'stalled', target: 'backoff', actions: ({ context }) => context.io.close() },
      ],
      after: { 20: { target: 'open', reenter: true } },
      on: { PONG: { actions: assign({ got: ({ context }) => context.got + 1 }) }, CLOSED: 'backoff' },
    },
    backoff: { after: { backoff: 'connecting' } },
    done: { type: 'final', entry: ({ context }) => context.io.close() },
  },
});

const FAULTY: FaultPlan = {
  ...CALM_PLAN,
  latency: { baseMs: 5, jitterMs: 10 },
  drop: 0.05,
  dup: 0.05,
  reorder: 0.1,
  corrupt: 0.03,
  disconnect: { at: [], everyMs: 400 },
  partitions: [{ target: 'tenant:t0', from: 300, to: 600 }],
  halfOpen: [{ target: 'user:t1/u1', dir: 's2c', from: 100, to: 400 }],
  healAt: 2000,
};

let outsideCounter = 0;

/** One run of the world; `leak` adds a record whose value comes from outside the world. */
function pingPong(seed: number, plan: FaultPlan = FAULTY, opts: { leak?: boolean; keep?: boolean } = {}): Trace {
  const scheduler = new Scheduler();
  const clock = new SimClock(scheduler);
  const random = Random.seeded(seed);
  const trace = new Trace({ keep: opts.keep ?? true });
  trace.append({ t: 0, k: 'run', scenario: 'ping-pong', seed, faultPlan: plan });
  const net = new SimNetwork({ scheduler, random: random.fork('network'), trace, plan });
  net.listen({
    accept(link) {
      return {
        onOpen() {},
        onFrame(data) {
          const m = /^ping:(\d+)$/.exec(data);
          link.send(m ? `pong:${m[1]}` : 'error:garbled');
        },
        onClose() {},
      };
    },
  });
  const actors: AnyActorRef[] = [];
  for (let c = 0; c < 4; c++) {
    const id = `t${c % 2}/u${c}/tab`;
    const rnd = random.fork(`client/${id}`);
    let link: Link | null = null;
    let attempt = 0;
    let actor: AnyActorRef | null = null;
    const io: Io = {
      connect() {
        const mine = net.connect({ connId: `${id}#${attempt++}`, endpoint: id, token: 'x' }, {
          onOpen: () => actor!.send({ type: 'OPEN' }),
          onFrame: (data) => link === mine && data.startsWith('pong:') && actor!.send({ type: 'PONG' }),
          onClose: () => link === mine && actor!.send({ type: 'CLOSED' }),
        });
        link = mine;
      },
      send: (data) => void link?.send(data),
      close: () => {
        const l = link;
        link = null; // a close we asked for is not news to the machine
        l?.close(1000, 'client close');
      },
      backoffMs: () => rnd.int(10, 100),
    };
    actor = createActor(pinger, { clock, input: { io, n: 30 }, id });
    let last = '';
    actor.subscribe((snap) => {
      const to = String(snap.value);
      if (to !== last) trace.append({ t: scheduler.now, k: 'transition', actor: id, from: last, to, event: '' });
      last = to;
    });
    actors.push(actor);
  }
  if (opts.leak) scheduler.at(137, 'leak', () => trace.append({ t: scheduler.now, k: 'gauge', name: 'leak', owner: 'world', value: outsideCounter++ }));
  for (const a of actors) a.start();
  const settled = (): boolean => actors.every((a) => a.getSnapshot().status === 'done');
  const r = scheduler.runUntilSettled({ maxSteps: 500_000, settled });
  if (!r.ok) throw new Error(r.error.message);
  trace.append({ t: scheduler.now, k: 'end', pendingTimers: scheduler.size, liveActors: 0, openLinks: net.openLinks(), healedAt: plan.healAt });
  return trace;
}

// ------------------------------------------------------------ specs

describe('sim/determinism', () => {
  it('the ping-pong world finishes under faults, and the faults really happened', () => {
    const trace = pingPong(1);
    const faults = new Set(trace.records.flatMap((r) => (r.k === 'fault' ? [r.fault] : r.k === 'drop' ? [r.reason] : [])));
    for (const f of ['drop', 'corrupt', 'reorder', 'disconnect', 'partition', 'half-open']) expect(faults, f).to.include(f);
    expect(trace.count('dup')).to.be.greaterThan(0);
    expect(trace.records.filter((r) => r.k === 'transition' && r.to === 'done')).to.have.length(4);
  });

  it('same seed ⇒ same trace hash and the same JSONL byte for byte; JSONL round-trips to the same hash', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const a = pingPong(seed);
        const b = pingPong(seed);
        expect(a.hash()).to.equal(b.hash());
        const jsonl = a.toJSONL();
        expect(jsonl).to.equal(b.toJSONL());
        // The hash is the SHA-256 of the JSONL export itself.
        expect(createHash('sha256').update(jsonl).digest('hex')).to.equal(a.hash());
        const back = Trace.fromJSONL(jsonl);
        expect(back.ok).to.equal(true);
        if (!back.ok) return;
        expect(back.value.hash()).to.equal(a.hash());
        expect(back.value.toJSONL()).to.equal(jsonl);
        expect(back.value.length).to.equal(a.length);
        expect(checkDeterminism((s) => pingPong(s), seed)).to.deep.equal({ ok: true, hash: a.hash(), records: a.length });
      }),
      params(6),
    );
  });

  it('different seeds under a faulty plan ⇒ different traces', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer(), (s1, s2) => {
        fc.pre(s1 !== s2);
        expect(pingPong(s1).hash()).to.not.equal(pingPong(s2).hash());
      }),
      params(6),
    );
  });

  it('checkDeterminism names the first differing record and its simulated time', () => {
    const r = checkDeterminism((s) => pingPong(s, FAULTY, { leak: true }), 11);
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    const reference = pingPong(11, FAULTY, { leak: true }).records;
    const leakAt = reference.findIndex((x) => x.k === 'gauge' && x.name === 'leak');
    expect(leakAt).to.be.greaterThan(0);
    expect(r.index).to.equal(leakAt);
    expect(r.t).to.equal(137);
    expect(r.first).to.contain('"name":"leak"');
    expect(r.second).to.contain('"name":"leak"');
    expect(r.first).to.not.equal(r.second);
    expect(r.message).to.contain(`record ${leakAt}`).and.contain('t=137');
  });

  it('checkDeterminism reports a trace that is a strict prefix of the other', () => {
    let calls = 0;
    const run = (): Trace => {
      const t = new Trace();
      t.append({ t: 0, k: 'fault', fault: 'x' });
      if (calls++ === 1) t.append({ t: 5, k: 'fault', fault: 'y' });
      return t;
    };
    const r = checkDeterminism(run, 0);
    expect(r).to.include({ ok: false, index: 1, t: 5, first: '<no record>', second: '{"fault":"y","k":"fault","t":5}' });
  });
});

describe('sim/trace', () => {
  it('keep: false keeps the same hash and counts without the records', () => {
    const full = pingPong(3);
    const lean = pingPong(3, FAULTY, { keep: false });
    expect(lean.hash()).to.equal(full.hash());
    expect(lean.records).to.have.length(0);
    expect(lean.length).to.equal(full.length);
    for (const k of ['send', 'deliver', 'drop', 'dup', 'fault', 'link', 'transition'] as const) {
      expect(lean.count(k), k).to.equal(full.records.filter((r) => r.k === k).length);
    }
  });

  it('hashes canonically: key order does not matter, every value does; hash() does not end the stream', () => {
    const a = new Trace();
    const b = new Trace();
    a.append({ t: 1, k: 'fault', fault: 'f', target: 'x', detail: 'd' });
    b.append({ detail: 'd', target: 'x', fault: 'f', k: 'fault', t: 1 });
    expect(a.hash()).to.equal(b.hash());
    a.append({ t: 2, k: 'run', scenario: 's', seed: 1, faultPlan: { b: [1, { y: 2, x: 1 }], a: null } });
    b.append({ t: 2, k: 'run', scenario: 's', seed: 1, faultPlan: { a: null, b: [1, { x: 1, y: 2 }] } });
    expect(a.hash()).to.equal(b.hash());
    expect(a.toJSONL()).to.equal(b.toJSONL());
    b.append({ t: 3, k: 'fault', fault: 'f' });
    a.append({ t: 3, k: 'fault', fault: 'g' });
    expect(a.hash()).to.not.equal(b.hash());
  });

  it('fromJSONL names the bad line', () => {
    const good = '{"fault":"f","k":"fault","t":1}';
    expect(Trace.fromJSONL(`${good}\n{oops\n`)).to.deep.include({ ok: false });
    const cases: [string, number][] = [
      [`${good}\n{oops`, 2],
      [`${good}\n\n{"k":"nope","t":1}`, 3],
      [`{"k":"fault"}`, 1],
      [`[1,2]`, 1],
    ];
    for (const [text, line] of cases) {
      const r = Trace.fromJSONL(text);
      expect(r.ok, text).to.equal(false);
      if (!r.ok) expect(r.error).to.include({ kind: 'trace', line });
    }
    const ok = Trace.fromJSONL(`\n${good}\n\n`);
    expect(ok.ok && ok.value.length).to.equal(1);
  });
});
