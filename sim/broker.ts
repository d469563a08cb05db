/**
 * The simulated broker: the twin of Redis on the world's scheduler. Its data
 * is the embedded store's (`StoreData`: one command at a time, so atomic, as
 * a Redis script is); what it adds is what a network and a server process do
 * to a node's link, with the faults of the `cluster` scenarios:
 *
 * - latency: every message (command, reply, notice, reconnect) takes a draw
 *   in [minMs, maxMs] one way, and stays in order on its connection (TCP):
 *   commands and replies on the node's command connection, notices on its
 *   subscriber connection (so a notice may overtake the reply of its append);
 * - partition from one node: its link goes down, its in-flight commands fail
 *   (`unavailable`: stored or not, the node cannot know), its notices are lost
 *   (Redis pub/sub is at most once) until it heals and the link comes back up;
 * - restart with or without its data: every link goes down for `downMs`;
 *   without data the epoch is gone, and the first command after it creates a
 *   new one, announced to every node (an `epoch` notice), as the Redis store does.
 */
import { StoreData } from '../machines/memory-store.ts';
import type { RequestId, Store, StoreCommand, StoreLink, StoreListener, StoreNotice, StoreReply } from '../machines/store.ts';
import type { Random } from './random.ts';
import type { Scheduler } from './scheduler.ts';

export interface BrokerOptions {
  scheduler: Scheduler;
  /** The broker's own stream (latency draws and epoch names); fork it from the world's. */
  random: Random;
  capacity: number;
  /** One-way latency between a node and the broker, drawn per message. */
  latency: { minMs: number; maxMs: number };
  /** Told of every fault and link change as it happens (the world writes them to its trace). */
  observe?: (fact: BrokerFact) => void;
}

export type BrokerFact =
  | { kind: 'partition' | 'heal'; node: string }
  | { kind: 'restart'; keepData: boolean }
  | { kind: 'restarted' }
  | { kind: 'link'; node: string; up: boolean };

interface BrokerLink {
  node: string;
  listener: StoreListener;
  open: boolean;
  up: boolean;
  /** Bumped whenever the link breaks: what was under way on the old connection is void. */
  generation: number;
  pending: Set<RequestId>;
  /** Arrival time of the last message on each connection, so messages never overtake. */
  lastCommand: number;
  lastReply: number;
  lastNotice: number;
}

export class SimBroker implements Store {
  readonly capacity: number;
  private readonly data: StoreData;
  private readonly links = new Set<BrokerLink>();
  private readonly partitioned = new Set<string>();
  private running = true;
  /** Bumped by each restart: only the latest one's end brings the broker back. */
  private restarts = 0;
  private epochs = 0;
  private readonly latencies: Random;

  constructor(private readonly options: BrokerOptions) {
    this.capacity = options.capacity;
    this.latencies = options.random.fork('latency');
    const names = options.random.fork('epoch');
    // the counter makes every epoch distinct; the draw makes it unguessable across seeds
    this.data = new StoreData(options.capacity, () => `b${++this.epochs}.${names.int(0, 0x7fffffff).toString(36)}`);
  }

  get isRunning(): boolean {
    return this.running;
  }

  connect(node: string, listener: StoreListener): StoreLink {
    const link: BrokerLink = { node, listener, open: true, up: false, generation: 0, pending: new Set(), lastCommand: 0, lastReply: 0, lastNotice: 0 };
    this.links.add(link);
    this.reconnect(link);
    return {
      send: (command) => this.send(link, command),
      close: () => {
        link.open = false;
        link.generation++;
        this.links.delete(link);
      },
    };
  }

  /** Cut one node off the broker (every link it has), until `heal`. */
  partition(node: string): void {
    this.options.observe?.({ kind: 'partition', node });
    this.partitioned.add(node);
    for (const link of this.links) if (link.node === node) this.drop(link);
  }

  heal(node: string): void {
    this.options.observe?.({ kind: 'heal', node });
    this.partitioned.delete(node);
    for (const link of this.links) if (link.node === node) this.reconnect(link);
  }

  /** Stop the broker for `downMs`; without `keepData` it comes back empty, in a new epoch. */
  restart(options: { keepData: boolean; downMs: number }): void {
    this.options.observe?.({ kind: 'restart', keepData: options.keepData });
    this.running = false;
    for (const link of this.links) this.drop(link);
    if (!options.keepData) this.data.wipe();
    const restart = ++this.restarts;
    this.options.scheduler.after(options.downMs, 'broker:restarted', () => {
      if (restart !== this.restarts) return;
      this.options.observe?.({ kind: 'restarted' });
      this.running = true;
      for (const link of this.links) this.reconnect(link);
    });
  }

  private send(link: BrokerLink, command: StoreCommand): void {
    if (!link.open) return;
    if (!link.up) {
      this.options.scheduler.after(0, 'broker:refused', () => link.open && link.listener.reply(failed(command.req)));
      return;
    }
    const generation = link.generation;
    link.pending.add(command.req);
    link.lastCommand = this.arrival(link.lastCommand, this.options.scheduler.now);
    this.options.scheduler.at(link.lastCommand, `broker:${command.kind}`, () => {
      if (link.generation !== generation) return; // lost with its connection; the drop reported it
      const { reply, notices } = this.data.execute(command);
      this.answer(link, reply, generation);
      for (const notice of notices) for (const other of this.links) this.notify(other, notice);
    });
  }

  private answer(link: BrokerLink, reply: StoreReply, generation: number): void {
    link.lastReply = this.arrival(link.lastReply, this.options.scheduler.now);
    this.options.scheduler.at(link.lastReply, `broker:reply-${reply.kind}`, () => {
      if (link.generation !== generation || !link.pending.delete(reply.req)) return;
      link.listener.reply(reply);
    });
  }

  private notify(link: BrokerLink, notice: StoreNotice): void {
    if (!link.up) return; // pub/sub is at most once: a node that is cut off misses it
    const generation = link.generation;
    link.lastNotice = this.arrival(link.lastNotice, this.options.scheduler.now);
    this.options.scheduler.at(link.lastNotice, `broker:notice-${notice.kind}`, () => {
      if (link.generation === generation) link.listener.notice(notice);
    });
  }

  /** The connection broke: every command under way fails, and the node hears that its link is down. */
  private drop(link: BrokerLink): void {
    if (!link.up) return;
    link.up = false;
    link.generation++;
    const pending = [...link.pending];
    link.pending.clear();
    this.options.scheduler.after(0, 'broker:link-down', () => {
      if (!link.open) return;
      for (const req of pending) link.listener.reply(failed(req));
      this.options.observe?.({ kind: 'link', node: link.node, up: false });
      link.listener.notice({ kind: 'link', up: false });
    });
  }

  /** The node's client reconnects one latency later, if the broker runs and the node is not cut off. */
  private reconnect(link: BrokerLink): void {
    const eligible = (): boolean => link.open && !link.up && this.running && !this.partitioned.has(link.node);
    if (!eligible()) return;
    const generation = link.generation;
    this.options.scheduler.after(this.latency(), 'broker:link-up', () => {
      if (link.generation !== generation || !eligible()) return;
      link.up = true;
      this.options.observe?.({ kind: 'link', node: link.node, up: true });
      link.listener.notice({ kind: 'link', up: true });
    });
  }

  /** Arrival of a message sent now on a connection whose last message arrives at `last`. */
  private arrival(last: number, now: number): number {
    return Math.max(now + this.latency(), last);
  }

  private latency(): number {
    const { minMs, maxMs } = this.options.latency;
    return minMs + this.latencies.next() * (maxMs - minMs);
  }
}

const failed = (req: RequestId): StoreReply => ({ kind: 'failed', req, reason: 'unavailable', message: 'the link to the broker is down' });
