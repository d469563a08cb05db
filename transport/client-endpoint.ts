/**
 * Binds a client connection machine to any Transport: the I/O actions the
 * machine names (`openLink`, `closeLink`, `sendFrame`, `deliver`, `deliverRun`, `notify*`)
 * and the jitter's draw, supplied with `provide()`, and the link handler that
 * turns what a link hears into machine events. Only the current link is
 * heard: a late close or frame from a link the machine already gave up on is
 * dropped here, not in the machine.
 */
import { createActor, raise, type Actor, type ActorOptions, type AnyActorLogic, type AnyActorRef, type InspectionEvent, type Observer, type SnapshotFrom } from 'xstate';
import { ClientInbox } from '../machines/client-inbox.ts';
import {
  appAnswer,
  backoffDelay,
  clientConnectionMachine,
  deliverEach,
  type AppSink,
  type ClientConfig,
  type ClientConnectionMachine,
  type ClientEvent,
  type ClientInput,
  type DeliverParams,
  type RandomSource,
  type RunParams,
  type SavedCursor,
} from '../machines/client-connection.ts';
import type { ClientFrame } from '../machines/frames.ts';
import { encode } from '../machines/protocol.ts';
import type { CloseInfo, Link, LinkHandler, Transport } from './link.ts';

export type { AppSink };

export interface ClientEndpointOptions {
  /** Stable id of this client (a browser tab); link ids are `${id}#${attempt}` (`${id}.${incarnation}#${attempt}` for a restored one). */
  id: string;
  /** Endpoint name the transport uses for faults ('tenant/user/tab'). */
  endpoint: string;
  token: string;
  threads: readonly string[];
  transport: Transport;
  app: AppSink;
  random: RandomSource;
  config?: Partial<ClientConfig>;
  clock?: ActorOptions<AnyActorLogic>['clock'];
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Stream positions saved by an earlier client of the same app (a reload resumes from them). */
  cursors?: Readonly<Record<string, SavedCursor>>;
  /** A persisted snapshot of an earlier client (`getPersistedSnapshot()`, through JSON): send `RESTORED` after `start()`. */
  snapshot?: SnapshotFrom<ClientConnectionMachine>;
  /** How many clients of this id came before (restored ones): keeps link ids unique. */
  incarnation?: number;
  /** A variant of the machine (`machine.provide(...)`), for broken-protocol tests. */
  machine?: ClientConnectionMachine;
  /** A root the client is created under (see `client-root.ts`): absent, the client is a root actor with a system of its own. */
  parent?: AnyActorRef;
  /** How each link's messages become machine events (default: a `ClientInbox`: one event per frame, a message's consecutive event frames as one); a variant that hears them otherwise brings its own. */
  inbox?: () => MessageInbox;
}

/** Turns one message from a link into the machine's events. */
export interface MessageInbox {
  accept(data: string): readonly ClientEvent[];
}

export type ClientActor = Actor<ClientConnectionMachine>;

/** What the endpoint does for one actor: its link and its app. */
export interface ClientPort extends AppSink {
  /** Open a new link; the world answers LINK_OPEN or LINK_CLOSED. */
  connect(): void;
  send(frame: ClientFrame): void;
  /** Close the current link (if any). */
  close(code: number, reason: string): void;
}

interface Wiring {
  port: ClientPort;
  random: RandomSource;
}

const wirings = new WeakMap<AnyActorRef, Wiring>();
const wiringOf = (self: AnyActorRef): Wiring => wirings.get(self)!;

/** One wired machine per machine variant (providing per actor would rebuild the chart for each tab). */
const wiredMachines = new WeakMap<ClientConnectionMachine, ClientConnectionMachine>();

function wired(machine: ClientConnectionMachine): ClientConnectionMachine {
  let out = wiredMachines.get(machine);
  if (out) return out;
  out = machine.provide({
    actions: {
      openLink: ({ self }) => wiringOf(self).port.connect(),
      closeLink: ({ self }, { code, reason }) => wiringOf(self).port.close(code, reason),
      sendFrame: ({ self }, { frame }) => wiringOf(self).port.send(frame),
      // the app answers at once: its answer is raised, taken in the same macrostep before any other event
      // (a raise whose event is the app's answer: what an enqueueActions that raised it did, without its dozen closures per call)
      deliver: raise(({ self }, { thread, seq, event }: DeliverParams) => appAnswer(thread, seq, wiringOf(self).port.deliver(thread, seq, event))),
      // a run: the app takes its events in order, its one answer (how far it got) raised the same way
      deliverRun: raise(({ self }, run: RunParams) => deliverEach(wiringOf(self).port, run)),
      notifyAppFailed: ({ self }, p) => wiringOf(self).port.appFailed(p.thread, p.seq, p.event, p.attempt, p.message),
      notifyDeadLetter: ({ self }, p) => wiringOf(self).port.deadLetter(p.thread, p.seq, p.event, p.message, p.attempts),
      notifyResync: ({ self }, p) => wiringOf(self).port.resync(p.thread, p.from, p.to, p.reason),
      notifyRejected: ({ self }, p) => wiringOf(self).port.rejected(p.code, p.detail),
    },
    delays: { backoff: ({ context, self }) => backoffDelay(context, wiringOf(self).random.next()) },
  });
  wiredMachines.set(machine, out);
  return out;
}

/**
 * What one link hears, handed to its client's machine while it is the
 * client's current link. Methods, not closures: a client holds no function
 * objects of its own (an idle session's memory is mostly such small objects).
 */
class HeardLink implements LinkHandler {
  /** Set once the transport returned the link (a handler may hear before: then it is not current yet). */
  link: Link | null = null;
  private readonly inbox: MessageInbox;

  constructor(private readonly client: ClientLinks) {
    this.inbox = client.options.inbox?.() ?? new ClientInbox();
  }

  private get current(): boolean {
    return this.link === this.client.current;
  }

  onOpen(): void {
    if (this.current) this.client.actor.send({ type: 'LINK_OPEN' });
  }

  onFrame(data: string): void {
    if (!this.current) return;
    const actor = this.client.actor;
    for (const event of this.inbox.accept(data)) actor.send(event);
  }

  onClose({ code, reason }: CloseInfo): void {
    if (!this.current) return;
    this.client.current = null;
    this.client.actor.send({ type: 'LINK_CLOSED', code, reason });
  }
}

/** A client's port: its links over the transport (one current at a time) and its app. */
class ClientLinks implements ClientPort {
  current: Link | null = null;
  actor!: ClientActor;
  private attempt = 0;
  private readonly linkPrefix: string;

  constructor(readonly options: ClientEndpointOptions) {
    this.linkPrefix = options.incarnation ? `${options.id}.${options.incarnation}` : options.id;
  }

  connect(): void {
    this.current?.close(1000, 'replaced');
    this.attempt++;
    const heard = new HeardLink(this);
    const { endpoint, token } = this.options;
    heard.link = this.options.transport.connect({ connId: `${this.linkPrefix}#${this.attempt}`, endpoint, token }, heard);
    this.current = heard.link;
  }

  send(frame: ClientFrame): void {
    this.current?.send(encode(frame));
  }

  close(code: number, reason: string): void {
    this.current?.close(code, reason);
  }

  // ---- the app (called on it, so an app object with methods keeps its `this`)
  deliver(...args: Parameters<AppSink['deliver']>): ReturnType<AppSink['deliver']> {
    return this.options.app.deliver(...args);
  }

  appFailed(...args: Parameters<AppSink['appFailed']>): void {
    this.options.app.appFailed(...args);
  }

  deadLetter(...args: Parameters<AppSink['deadLetter']>): void {
    this.options.app.deadLetter(...args);
  }

  resync(...args: Parameters<AppSink['resync']>): void {
    this.options.app.resync(...args);
  }

  rejected(...args: Parameters<AppSink['rejected']>): void {
    this.options.app.rejected(...args);
  }
}

export function createClient(options: ClientEndpointOptions): ClientActor {
  const links = new ClientLinks(options);
  links.actor = createPortActor(options.machine ?? clientConnectionMachine, links, options.random, {
    id: options.id,
    input: { id: options.id, token: options.token, threads: options.threads, ...(options.config ? { config: options.config } : {}), ...(options.cursors ? { cursors: options.cursors } : {}) },
    ...(options.snapshot ? { snapshot: options.snapshot } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.parent ? { parent: options.parent } : {}),
  });
  return links.actor;
}

/** A client actor whose I/O goes to `port` and whose jitter comes from `random` (specs drive one without a transport). */
export function createPortActor(machine: ClientConnectionMachine, port: ClientPort, random: RandomSource, options: ActorOptions<ClientConnectionMachine> & { input: ClientInput }): ClientActor {
  const actor = createActor(wired(machine), options);
  wirings.set(actor, { port, random });
  return actor;
}
