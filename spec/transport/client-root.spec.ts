/**
 * Clients under one root (transport/client-root.ts) share its XState system
 * and behave exactly as clients with systems of their own: the same frames,
 * links and macrosteps over the same script, heartbeats included. A client
 * is stopped through the root (directly it cannot be), the inspector sees the
 * clients and never the root, and a client's error is not swallowed.
 */
import { expect } from 'chai';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import { clientConnectionMachine } from '../../machines/client-connection.ts';
import type { ClientFrame } from '../../machines/frames.ts';
import { SimClock } from '../../sim/clock.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { createPortActor, type ClientActor, type ClientPort } from '../../transport/client-endpoint.ts';
import { clientRoot } from '../../transport/client-root.ts';

/** A port that records what the client did (and can fail on connect). */
class Port implements ClientPort {
  readonly did: string[] = [];
  failConnect = false;
  connect(): void {
    if (this.failConnect) throw new Error('connect failed');
    this.did.push('connect');
  }
  send(frame: ClientFrame): void {
    this.did.push(`send ${frame.type}`);
  }
  close(code: number): void {
    this.did.push(`close ${code}`);
  }
  deliver() {
    return { ok: true } as const;
  }
  appFailed(): void {}
  deadLetter(): void {}
  resync(): void {}
  rejected(): void {}
}

interface Tab {
  actor: ClientActor;
  port: Port;
  snapshots: number;
}

/** Two tabs on one clock, under a root or each with its own system (`snapshots`: the inspector's per tab). */
function tabs(shared: boolean): { scheduler: Scheduler; tabs: Tab[]; root?: ReturnType<typeof clientRoot>; seen: AnyActorRef[] } {
  const scheduler = new Scheduler();
  const clock = new SimClock(scheduler);
  const seen: AnyActorRef[] = [];
  const made: Tab[] = [];
  const inspect = (e: InspectionEvent) => {
    seen.push(e.actorRef as AnyActorRef);
    const tab = made.find((t) => t.actor === e.actorRef);
    if (tab && e.type === '@xstate.snapshot') tab.snapshots++;
  };
  const root = shared ? clientRoot({ clock, inspect }) : undefined;
  for (const id of ['a', 'b']) {
    const port = new Port();
    const tab: Tab = { port, snapshots: 0, actor: undefined as unknown as ClientActor };
    made.push(tab);
    tab.actor = createPortActor(clientConnectionMachine, port, { next: () => 0.5 }, {
      id,
      clock,
      input: { id, token: `tok:${id}`, threads: ['th0'] },
      ...(root ? { parent: root.ref } : { inspect }),
    });
  }
  return { scheduler, tabs: made, ...(root ? { root } : {}), seen };
}

/** Start, open, welcome, subscribe; then 10 s of heartbeats nobody answers (pong timeouts, reconnects). */
function script({ scheduler, tabs: all }: ReturnType<typeof tabs>): void {
  for (const { actor } of all) {
    actor.start();
    actor.send({ type: 'START' });
    actor.send({ type: 'LINK_OPEN' });
    actor.send({ type: 'frame.welcome', frame: { v: 1, type: 'welcome', session: 's', epoch: 'e1' } } as never);
  }
  scheduler.runUntil(10_000);
}

describe('transport/client-root', () => {
  it('clients under one root share its system and do what clients with systems of their own do', () => {
    const own = tabs(false);
    const shared = tabs(true);
    script(own);
    script(shared);
    expect(shared.tabs[0]!.actor.system).to.equal(shared.root!.ref.system);
    expect(shared.tabs[1]!.actor.system).to.equal(shared.root!.ref.system);
    expect(own.tabs[0]!.actor.system).to.not.equal(own.tabs[1]!.actor.system);
    for (const i of [0, 1]) {
      expect(shared.tabs[i]!.port.did, `tab ${i}`).to.deep.equal(own.tabs[i]!.port.did);
      expect(shared.tabs[i]!.snapshots, `tab ${i} macrosteps`).to.equal(own.tabs[i]!.snapshots);
      expect(shared.tabs[i]!.actor.getSnapshot().value).to.deep.equal(own.tabs[i]!.actor.getSnapshot().value);
    }
    expect(own.tabs[0]!.port.did.filter((d) => d === 'connect').length, 'the script reconnects').to.be.greaterThan(1);
    expect(shared.seen.length).to.be.greaterThan(0);
    expect(shared.seen.includes(shared.root!.ref), 'the root is never inspected').to.equal(false);
  });

  it('a client is stopped through the root (not directly), the other goes on', () => {
    const world = tabs(true);
    script(world);
    const [a, b] = world.tabs.map((t) => t.actor);
    expect(() => a!.stop()).to.throw(/non-root/);
    world.root!.stop(a!);
    expect(a!.getSnapshot().status).to.equal('stopped');
    expect(b!.getSnapshot().status).to.equal('active');
    const before = world.tabs[1]!.port.did.length;
    world.scheduler.runUntil(20_000);
    expect(world.tabs[1]!.port.did.length, 'b still runs its timers').to.be.greaterThan(before);
    expect(world.seen.includes(world.root!.ref), 'the root is never inspected').to.equal(false);
  });

  it("a client's error reaches the root's error observers (it is not swallowed)", () => {
    const world = tabs(true);
    const errors: unknown[] = [];
    world.root!.ref.subscribe({ error: (err: unknown) => errors.push(err) });
    world.tabs[0]!.port.failConnect = true;
    world.tabs[0]!.actor.start();
    world.tabs[0]!.actor.send({ type: 'START' });
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['connect failed']);
  });
});
