/**
 * What the hub keeps: a session that closed is garbage once the hub forgot it.
 * Contexts are immutable, so the hub has a new context (and a new session map)
 * for every spawn; anything a live session holds that captured an earlier
 * context (a closure over `context`) keeps that context's whole session map
 * alive, and through the sessions in it, every earlier one: a leak that grows
 * with every reconnect. Judged by the garbage collector itself (WeakRefs).
 */
import { expect } from 'chai';
import type { SessionRef } from '../../machines/hub.ts';
import { emptyWorkload, idleUsers, openWorld } from '../../bench/sim-world.ts';
import { gcFunction } from '../../bench/stats.ts';
import { CALM_PLAN } from '../../sim/fault-plan.ts';

describe('machines/hub memory', () => {
  it('sessions that closed while others stayed up are collected: no live session keeps an earlier hub context', async () => {
    const gc = await gcFunction();
    expect(gc, 'a garbage collector to call').to.be.a('function');
    const { world, scheduler } = openWorld({
      scenario: 'hub-memory', seed: 5, workload: emptyWorkload(idleUsers(12)),
      plan: { ...CALM_PLAN, disconnect: { at: [], everyMs: 60 }, healAt: 4_000 }, settleMs: 0,
    });
    // the spec reads the hub's session map (the world's gauges do the same in sim/)
    const hub = world.currentHub;
    const seen = new Map<string, WeakRef<SessionRef>>();
    const sample = (): void => {
      for (const [id, session] of hub.getSnapshot().context.sessions) if (!seen.has(id)) seen.set(id, new WeakRef(session));
    };
    for (let t = 50; t <= 5_000; t += 50) {
      scheduler.runUntil(t);
      sample();
    }
    const live = new Set(hub.getSnapshot().context.sessions.keys());
    const closed = [...seen.keys()].filter((id) => !live.has(id));
    expect(live.size, 'every tab is connected again').to.equal(12);
    expect(closed.length, 'sessions closed by the disconnects').to.be.greaterThan(30);
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
    gc!();
    const kept = closed.filter((id) => seen.get(id)!.deref() !== undefined);
    console.log(`      kept ${kept.length} of ${closed.length}`);
    expect(kept.length, `${kept.length} of ${closed.length} closed sessions still reachable`).to.be.at.most(Math.floor(closed.length / 10));
    world.shutdown();
    scheduler.runUntil(scheduler.now + 10_000);
  });
});
