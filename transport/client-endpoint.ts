/**
 * Binds a client connection machine to any Transport: the I/O actions the
 * machine names (`openLink`, `closeLink`, `sendFrame`, `deliver`, `notify*`)
 * and the jitter's draw, supplied with `provide()`, and the link handler that
 * turns what a link hears into machine events. Only the current link is
 * heard: a late close or frame from a link the machine already gave up on is
 * dropped here, not in the machine.
 */
import { createActor, enqueueActions, type Actor, type ActorOptions, type AnyActorLogic, type AnyActorRef, type InspectionEvent, type Observer, type SnapshotFrom } from 'xstate';
import { ClientInbox } from '../machines/client-inbox.ts';
import {
  appAnswer,
  backoffDelay,
  clientConnectionMachine,
  type AppSink,
  type ClientConfig,
  type ClientConnectionMachine,
  type ClientInput,
  type DeliverParams,
  type RandomSource,
  type SavedCursor,
} from '../machines/client-connection.ts';
import type { ClientFrame } from '../machines/frames.ts';
import { encode } from '../machines/protocol.ts';
import type { Link, LinkHandler, Transport } from './link.ts';

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
      deliver: enqueueActions(({ self, enqueue }, { thread, seq, event }: DeliverParams) => {
        enqueue.raise(appAnswer(thread, seq, wiringOf(self).port.deliver(thread, seq, event)));
      }),
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

export function createClient(options: ClientEndpointOptions): ClientActor {
  let current: Link | null = null;
  let attempt = 0;
  let actor: ClientActor;
  const linkPrefix = options.incarnation ? `${options.id}.${options.incarnation}` : options.id;

  const handlerFor = (inbox: ClientInbox, link: () => Link | null): LinkHandler => ({
    onOpen: () => {
      if (link() === current) actor.send({ type: 'LINK_OPEN' });
    },
    onFrame: (data) => {
      if (link() !== current) return;
      for (const event of inbox.accept(data)) actor.send(event);
    },
    onClose: ({ code, reason }) => {
      if (link() !== current) return;
      current = null;
      actor.send({ type: 'LINK_CLOSED', code, reason });
    },
  });

  const port: ClientPort = {
    ...options.app,
    connect: () => {
      current?.close(1000, 'replaced');
      attempt++;
      let link: Link | null = null;
      const handler = handlerFor(new ClientInbox(), () => link);
      link = options.transport.connect({ connId: `${linkPrefix}#${attempt}`, endpoint: options.endpoint, token: options.token }, handler);
      current = link;
    },
    send: (frame) => {
      current?.send(encode(frame));
    },
    close: (code, reason) => {
      current?.close(code, reason);
    },
  };

  actor = createPortActor(options.machine ?? clientConnectionMachine, port, options.random, {
    id: options.id,
    input: { id: options.id, token: options.token, threads: options.threads, ...(options.config ? { config: options.config } : {}), ...(options.cursors ? { cursors: options.cursors } : {}) },
    ...(options.snapshot ? { snapshot: options.snapshot } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  return actor;
}

/** A client actor whose I/O goes to `port` and whose jitter comes from `random` (specs drive one without a transport). */
export function createPortActor(machine: ClientConnectionMachine, port: ClientPort, random: RandomSource, options: ActorOptions<ClientConnectionMachine> & { input: ClientInput }): ClientActor {
  const actor = createActor(wired(machine), options);
  wirings.set(actor, { port, random });
  return actor;
}
