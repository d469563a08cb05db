/**
 * The cluster in the simulator (DESIGN.md, "Many nodes"): N server nodes
 * (hubs on the store) share one simulated broker (`SimBroker`, the twin of
 * Redis with its own faults: latency, a partition from one node, a restart
 * with or without its data). A load balancer draws a live node for each
 * connection (so a reconnect may land on any node); producers publish to a
 * random live node, one event at a time per stream, and retry on failure or
 * silence with the same (run, idx), which the store's idempotent append makes
 * safe. A node crash stops its hub with no goodbye: its links close 1006, and
 * a new, empty hub comes back under the same name after `downMs`.
 *
 * Everything runs on the world's scheduler and PRNG forks, so the same seed
 * gives the same trace.
 */
import { createActor } from 'xstate';
import type { AgentEvent } from '../machines/frames.ts';
import { hubMachine, type HubRef } from '../machines/hub.ts';
import { createServerHandler, servingHub } from '../transport/server-endpoint.ts';
import { SimBroker, type BrokerFact } from './broker.ts';
import { scheduleBrokerFaults } from './broker-faults.ts';
import type { ClusterPlan, NodeCrash } from './fault-plan.ts';
import { SimNetwork } from './network.ts';
import type { Random } from './random.ts';
import { mirrorOf, sessionLinksOf } from './gauges.ts';
import { runWorldOn } from './run-driver.ts';
import type { Scheduler } from './scheduler.ts';
import { World, type WorldInput, type WorldResult, type WorldSetup } from './world.ts';

/** A publish not answered within this is sent again (to another node: the first may have died). */
const PUBLISH_TIMEOUT_MS = 400;
/** Pause before retrying a publish the store refused. */
const PUBLISH_RETRY_MS = 50;

interface ClusterNode {
  name: string;
  hub: HubRef | undefined;
}

/** One stream's producer queue: the next event goes only once the previous one is stored. */
interface Outgoing {
  queue: AgentEvent[];
  /** Bumped per attempt: a late answer to an earlier attempt is ignored. */
  attempt: number;
  busy: boolean;
}

export class ClusterWorld extends World {
  private broker!: SimBroker;
  private readonly nodes: ClusterNode[] = [];
  private readonly balancer: Random;
  private readonly outgoing = new Map<string, Outgoing>();
  private readonly nodeIds: Random;

  constructor(
    input: WorldInput,
    setup: WorldSetup,
    private readonly scheduler: Scheduler,
  ) {
    super(input, setup);
    this.balancer = this.random.fork('lb');
    this.nodeIds = this.random.fork('cluster-session-ids');
  }

  private get plan(): ClusterPlan {
    return this.input.plan.cluster!;
  }

  override startServer(): void {
    this.broker = new SimBroker({
      scheduler: this.scheduler,
      random: this.random.fork('broker'),
      capacity: this.input.protocol?.logCapacity ?? 10_000,
      latency: this.plan.brokerLatency,
      observe: (fact) => this.observe(fact),
    });
    scheduleBrokerFaults(this.scheduler, this.broker, this.plan.broker);
    for (let i = 0; i < this.plan.nodes; i++) this.nodes.push({ name: `n${i}`, hub: undefined });
    for (const node of this.nodes) node.hub = this.startNode(node.name);
    // the base world's gauges read one hub: the first node's
    this.hub = this.nodes[0]!.hub!;
    for (const crash of this.plan.crashes) this.time.at(crash.at, `crash n${crash.node}`, () => this.crash(crash));
  }

  override listen(): void {
    this.network.listen(
      createServerHandler({
        hub: () => this.pick(),
        observer: {
          sent: (link, data) => this.wire.sent(link, data),
          rejected: (link, code, detail) => this.trace.append({ t: this.time.now, k: 'reject', side: 'server', link, code, detail }),
        },
      }),
    );
  }

  /** The cluster has no single server to restart: a node crash is its fault. */
  override restartServer(): void {}

  private observe(fact: BrokerFact): void {
    const detail = 'node' in fact ? `${fact.node}${'up' in fact ? (fact.up ? ' up' : ' down') : ''}` : 'keepData' in fact ? (fact.keepData ? 'keeps data' : 'empty') : '';
    this.trace.append({ t: this.time.now, k: 'fault', fault: `broker:${fact.kind}`, detail });
  }

  private startNode(name: string): HubRef {
    const protocol = this.input.protocol ?? {};
    const ids = this.nodeIds;
    return this.watch.system(createActor(servingHub(protocol.hubMachine ?? hubMachine), {
      id: `hub:${name}`,
      ...(this.setup.clock ? { clock: this.setup.clock } : {}),
      ...this.watch.options,
      input: {
        epoch: '',
        directory: this.directory,
        store: this.broker,
        node: name,
        ...(protocol.policy ? { policy: protocol.policy } : {}),
        ...(protocol.sessionConfig ? { sessionConfig: protocol.sessionConfig } : {}),
        ...(protocol.limits ? { limits: protocol.limits } : {}),
        sessionIds: () => `${name}-${ids.int(0, 0x7fffffff).toString(36)}`,
      },
    })).start();
  }

  /** A live node, drawn by the balancer (the first node's hub when none is up: it refuses nothing, the client retries). */
  private pick(): HubRef {
    const live = this.nodes.filter((n) => n.hub !== undefined);
    return (live.length > 0 ? this.balancer.pick(live) : this.nodes[0]!).hub ?? this.hub;
  }

  /** No goodbye: the hub stops, its links close 1006, its store link goes; later an empty hub under the same name. */
  private crash(crash: NodeCrash): void {
    const node = this.nodes[crash.node]!;
    const hub = node.hub;
    if (!hub) return;
    this.trace.append({ t: this.time.now, k: 'fault', fault: 'node_crash', target: node.name, detail: `down ${crash.downMs} ms` });
    const links = sessionLinksOf(hub);
    node.hub = undefined;
    mirrorOf(hub)?.close();
    hub.stop();
    if (this.network instanceof SimNetwork) this.network.closeLinks(links, 1006, 'node crashed');
    this.time.after(crash.downMs, `restart ${node.name}`, () => {
      this.trace.append({ t: this.time.now, k: 'fault', fault: 'node_back', target: node.name });
      node.hub = this.startNode(node.name);
    });
  }

  /** A producer publishes one event at a time per stream, to a random live node, until stored. */
  protected override publish(event: AgentEvent): void {
    const key = `${event.tenant}\u0000${event.user}\u0000${event.thread}`;
    let out = this.outgoing.get(key);
    if (!out) this.outgoing.set(key, (out = { queue: [], attempt: 0, busy: false }));
    out.queue.push(event);
    if (!out.busy) this.sendNext(out);
  }

  private sendNext(out: Outgoing): void {
    const event = out.queue[0];
    out.busy = event !== undefined;
    if (!event) return;
    const attempt = ++out.attempt;
    const live = this.nodes.filter((n) => n.hub !== undefined);
    const retry = (ms: number) => this.time.after(ms, 'publish retry', () => out.attempt === attempt && this.sendNext(out));
    if (live.length === 0) return void retry(PUBLISH_RETRY_MS);
    this.balancer.pick(live).hub!.send({
      type: 'PUBLISH',
      event,
      done: (reply) => {
        if (out.attempt !== attempt) return;
        if (reply.kind === 'failed') return void retry(PUBLISH_RETRY_MS);
        out.queue.shift();
        this.sendNext(out);
      },
    });
    // a node that died with the append in flight never answers
    retry(PUBLISH_TIMEOUT_MS);
  }

  override shutdown(): void {
    super.shutdown();
    for (const node of this.nodes) if (node.hub && node.hub !== this.hub) node.hub.send({ type: 'SHUTDOWN', code: 1001, reason: 'world ends' });
  }

  /** The gauges count what every node, and the first node's hub, left. */
  protected override hubs(): HubRef[] {
    const all = this.nodes.flatMap((n) => (n.hub ? [n.hub] : []));
    return all.includes(this.hub) ? all : [...all, this.hub];
  }
}

/** One run of a cluster world (the plan's `cluster` field says how many nodes and what fails). */
export function runClusterWorld(input: WorldInput): WorldResult {
  return runWorldOn(input, (i, setup, scheduler) => new ClusterWorld(i, setup, scheduler));
}
