/**
 * Binds a client connection machine to any Transport: the `ClientPort` the
 * machine talks to, and the link handler that turns what a link hears into
 * machine events. Only the current link is heard: a late close or frame from
 * a link the machine already gave up on is dropped here, not in the machine.
 */
import { createActor, type Actor, type ActorOptions, type AnyActorLogic, type InspectionEvent, type Observer } from 'xstate';
import { ClientInbox } from '../machines/client-inbox.ts';
import {
  clientConnectionMachine,
  type ClientConfig,
  type ClientConnectionMachine,
  type ClientPort,
  type RandomSource,
  type SavedCursor,
} from '../machines/client-connection.ts';
import { encode } from '../machines/protocol.ts';
import type { Link, LinkHandler, Transport } from './link.ts';

/** The app behind the client: what it receives (it may fail), and what it is told. */
export type AppSink = Omit<ClientPort, 'connect' | 'send' | 'close'>;

export interface ClientEndpointOptions {
  /** Stable id of this client (a browser tab); link ids are `${id}#${attempt}`. */
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
  /** A variant of the machine (`machine.provide(...)`), for broken-protocol tests. */
  machine?: ClientConnectionMachine;
}

export type ClientActor = Actor<ClientConnectionMachine>;

export function createClient(options: ClientEndpointOptions): ClientActor {
  let current: Link | null = null;
  let attempt = 0;
  let actor: ClientActor;

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
      link = options.transport.connect({ connId: `${options.id}#${attempt}`, endpoint: options.endpoint, token: options.token }, handler);
      current = link;
    },
    send: (frame) => {
      current?.send(encode(frame));
    },
    close: (code, reason) => {
      current?.close(code, reason);
    },
  };

  actor = createActor(options.machine ?? clientConnectionMachine, {
    id: options.id,
    input: { id: options.id, token: options.token, threads: options.threads, random: options.random, port, ...(options.config ? { config: options.config } : {}), ...(options.cursors ? { cursors: options.cursors } : {}) },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  return actor;
}
