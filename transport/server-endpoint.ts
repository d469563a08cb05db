/**
 * Binds the hub to any Transport: each accepted link becomes a session (the
 * hub spawns it), and what the link hears becomes session events after the
 * decoder's verdict (`frame.*`, `frame.invalid`, LINK_CLOSED, DRAIN). The hub
 * can be swapped (a server restart makes a new one with a new epoch) without
 * the transport knowing.
 *
 * The I/O the hub and its sessions name (`sessionOpened`, `refuseLink`,
 * `sendFrame`, `closeLink`, `notify*`) is supplied here with `provide()`
 * (`servingHub`): a create the hub from `servingHub(machine)`. Those actions
 * find this endpoint through the actor system they run in, and the link by
 * its name; the hub names each link's session in its `sessionOpened`.
 */
import { enqueueActions, type ActorSystem, type AnyActorRef, type AnyActorLogic } from 'xstate';
import { hubMachine, type HubMachine, type HubRef, type SessionRef } from '../machines/hub.ts';
import { decodeClientFrame, type DecodeOptions } from '../machines/protocol.ts';
import { frameEvent, type IoAction, type ServerSessionMachine, type SessionContext, type SessionEvent } from '../machines/server-session.ts';
import type { CloseInfo, ConnectRequest, Link, LinkHandler, ServerHandler } from './link.ts';

/** What the server tells its operator (the world writes it to the trace). */
export interface ServerObserver {
  /** Every message the server puts on a link (the world counts retransmissions on the wire). */
  sent?(link: string, data: string): void;
  rejected?(link: string, code: string, detail: string): void;
  coalesced?(link: string, thread: string, from: number, through: number): void;
  /** The hub made a session for a link (the server follows its snapshots for its totals). */
  opened?(link: string, session: SessionRef): void;
}

export interface ServerEndpointOptions {
  hub: () => HubRef;
  observer?: ServerObserver;
  decode?: DecodeOptions;
}

/** One accepted link, and the session the hub made for it (none until it did, none if it refused). */
interface Held {
  link: Link;
  session?: SessionRef;
}

/** What the provided actions reach: the links of one endpoint, by name. */
interface Wiring {
  links: Map<string, Held>;
  observer: ServerObserver | undefined;
}

/** The endpoints serving each hub (by its actor system; usually one, several if handlers share a hub). */
const wirings = new WeakMap<ActorSystem<any>, Wiring[]>();
/** The endpoint that holds `link`, for an action of the hub or of one of its sessions. */
function wiringOf(self: AnyActorRef, link: string): Wiring | undefined {
  const all = wirings.get(self.system);
  if (!all) return undefined;
  return all.length === 1 ? all[0] : all.find((w) => w.links.has(link));
}
/** The link named `link`, as the endpoint serving `self`'s hub holds it. */
const linkOf = (self: AnyActorRef, link: string): Link | undefined => wiringOf(self, link)?.links.get(link)?.link;
function serve(system: ActorSystem<any>, wiring: Wiring): void {
  const all = wirings.get(system);
  if (!all) wirings.set(system, [wiring]);
  else if (!all.includes(wiring)) all.push(wiring);
}

type SessionCollect = Parameters<typeof enqueueActions<SessionContext, SessionEvent, { data: string; paced?: true }, SessionEvent, never, IoAction, never, never, never>>[0];

/** A session machine whose I/O goes to the links of the endpoint its hub serves. */
function wiredSession(session: ServerSessionMachine): ServerSessionMachine {
  const write: SessionCollect = ({ context, self, enqueue }, { data, paced }) => {
    const wiring = wiringOf(self, context.link);
    wiring?.observer?.sent?.(context.link, data);
    const result = wiring?.links.get(context.link)?.link.send(data);
    // the link's answer to a flush's write is a socket fact the flush waits for: raised, so it is heard before the next event is taken
    if (!paced) return;
    if (!result || !result.ok) enqueue.raise({ type: 'LINK_GONE' });
    else if ('backpressure' in result) enqueue.raise({ type: 'LINK_FULL' });
  };
  return session.provide({
    actions: {
      sendFrame: enqueueActions(write) as never,
      closeLink: ({ context, self }, { code, reason }) => linkOf(self, context.link)?.close(code, reason),
      notifyRejected: ({ context, self }, { code, detail }) => wiringOf(self, context.link)?.observer?.rejected?.(context.link, code, detail),
      notifyCoalesced: ({ context, self }, { thread, from, through }) => wiringOf(self, context.link)?.observer?.coalesced?.(context.link, thread, from, through),
    },
  });
}

/** One wired machine per machine variant (providing per hub would rebuild the chart for each restart). */
const served = new WeakMap<HubMachine, HubMachine>();

/** `machine` (the hub, or a variant of it) with the endpoint's I/O: create the served hub from this. */
export function servingHub(machine: HubMachine = hubMachine): HubMachine {
  let out = served.get(machine);
  if (out) return out;
  const session = machine.implementations.actors['session'] as AnyActorLogic as ServerSessionMachine;
  out = machine.provide({
    actors: { session: wiredSession(session) },
    actions: {
      sessionOpened: ({ context, self }, { link, connId }) => {
        const wiring = wiringOf(self, link);
        const held = wiring?.links.get(link);
        if (!held) return;
        // the hub's action is given its context as the spawn left it: the new session is in it
        held.session = context.sessions.get(connId);
        if (!held.session) return;
        wiring?.observer?.opened?.(link, held.session);
      },
      refuseLink: ({ self }, { link, code, reason }) => linkOf(self, link)?.close(code, reason),
    },
  });
  served.set(machine, out);
  return out;
}

export function createServerHandler(options: ServerEndpointOptions): ServerHandler {
  const wiring: Wiring = { links: new Map(), observer: options.observer };
  return {
    accept(link: Link, request: ConnectRequest): LinkHandler {
      // the provided actions find the link by its name: two live links may not share one
      if (wiring.links.has(link.id)) {
        link.close(1008, 'duplicate link id');
        return { onOpen: () => {}, onFrame: () => {}, onClose: () => {} };
      }
      const held: Held = { link };
      wiring.links.set(link.id, held);
      const hub = options.hub();
      serve(hub.system, wiring);
      // the hub names the session; the link's own id is only a label for traces
      hub.send({ type: 'CONNECT', link: link.id, token: request.token, ...(request.hint !== undefined ? { hint: request.hint } : {}) });
      return new SessionLink(held, wiring, options.decode);
    },
  };
}

/** One link's socket facts, to its session: methods, not four closures per connection (an idle link's handler is one small object). */
class SessionLink implements LinkHandler {
  constructor(
    private readonly held: Held,
    private readonly wiring: Wiring,
    private readonly decode: DecodeOptions | undefined,
  ) {}

  onOpen(): void {}

  onFrame(data: string): void {
    const decoded = decodeClientFrame(data, this.decode);
    this.held.session?.send(decoded.ok ? frameEvent(decoded.frame) : { type: 'frame.invalid', code: decoded.error.code, detail: decoded.error.message });
  }

  onClose({ code, reason }: CloseInfo): void {
    const { held, wiring } = this;
    if (wiring.links.get(held.link.id) === held) wiring.links.delete(held.link.id);
    held.session?.send({ type: 'LINK_CLOSED', code, reason });
  }

  onDrain(): void {
    this.held.session?.send({ type: 'DRAIN' });
  }
}
