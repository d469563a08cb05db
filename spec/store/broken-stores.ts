/**
 * Stores broken on purpose, each in one way a real store could be (made by
 * wrapping or configuring the embedded store, never by a flag inside it), so
 * the contract's checks prove they can fail.
 */
import { MemoryStore } from '../../machines/memory-store.ts';
import type { Store, StoreCommand, StoreLink, StoreListener, StoreNotice, StoreReply } from '../../machines/store.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { epochCounter, scheduledHarness } from './scheduled-harness.ts';
import type { HarnessFactory } from './store-node.ts';

interface Tamper {
  command?(command: StoreCommand, link: number): StoreCommand;
  reply?(reply: StoreReply, link: number): StoreReply;
  /** undefined drops the notice. */
  notice?(notice: StoreNotice, link: number): StoreNotice | undefined;
}

/** The store `inner`, with what goes in and out of each link passed through `tamper`. */
export function tampered(inner: Store, tamper: Tamper, capacity = inner.capacity): Store {
  let links = 0;
  return {
    capacity,
    connect(node: string, listener: StoreListener): StoreLink {
      const link = links++;
      const inner_ = inner.connect(node, {
        reply: (reply) => listener.reply(tamper.reply ? tamper.reply(reply, link) : reply),
        notice: (notice) => {
          const kept = tamper.notice ? tamper.notice(notice, link) : notice;
          if (kept) listener.notice(kept);
        },
      });
      return { send: (command) => inner_.send(tamper.command ? tamper.command(command, link) : command), close: () => inner_.close() };
    },
  };
}

interface Parts {
  capacity?: number;
  newEpoch?: () => string;
  /** Delay of the n-th deferred answer. */
  delay?: (n: number) => number;
  /** Answer at once, inside the caller's send. */
  immediate?: boolean;
  tamper?: Tamper;
}

function brokenHarness(parts: Parts): HarnessFactory {
  return async (capacity) => {
    const scheduler = new Scheduler();
    let n = 0;
    const delay = parts.delay ?? (() => 0);
    const inner = new MemoryStore({
      capacity: parts.capacity ?? capacity,
      newEpoch: parts.newEpoch ?? epochCounter('m'),
      defer: parts.immediate ? (fn) => fn() : (fn) => scheduler.after(delay(n++), 'store', fn),
    });
    const store = tampered(inner, parts.tamper ?? {}, capacity);
    return scheduledHarness(scheduler, store, { loseData: () => inner.wipe(), lossBreaksLinks: false });
  };
}

export const brokenStores: { name: string; caughtBy: string; make: HarnessFactory }[] = [
  {
    name: 'idempotency forgotten (every append is new)',
    caughtBy: 'idempotence',
    make: (() => {
      let unique = 0;
      return brokenHarness({ tamper: { command: (c) => (c.kind === 'append' ? { ...c, event: { ...c.event, run: `${c.event.run}~${unique++}` } } : c) } });
    })(),
  },
  {
    name: 'sequence counted per node (not atomic across nodes)',
    caughtBy: 'atomicSequence',
    make: (() => {
      const counters = new Map<number, number>();
      return brokenHarness({
        tamper: {
          reply: (r, link) => {
            if (r.kind !== 'appended') return r;
            counters.set(link, (counters.get(link) ?? 0) + 1);
            return { ...r, seq: counters.get(link)! };
          },
        },
      });
    })(),
  },
  { name: 'log never capped', caughtBy: 'cap', make: brokenHarness({ capacity: Infinity }) },
  {
    name: 'notifies only the first node',
    caughtBy: 'notification',
    make: brokenHarness({ tamper: { notice: (n, link) => (n.kind === 'appended' && link !== 0 ? undefined : n) } }),
  },
  { name: 'keeps its epoch after losing its data', caughtBy: 'dataLoss', make: brokenHarness({ newEpoch: () => 'forever' }) },
  { name: 'answers later commands first', caughtBy: 'replies', make: brokenHarness({ delay: (n) => 1000 - n }) },
  { name: 'answers from inside send (re-entrant)', caughtBy: 'replies', make: brokenHarness({ immediate: true }) },
];
