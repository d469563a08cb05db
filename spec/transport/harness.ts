/**
 * A small real world for the transport specs: a hub (the real machine, real
 * clock), a WsTransport on 127.0.0.1:0, real client machines through
 * createClient, and apps that record what they received. Everything it opens
 * is closed by `close()`, which every spec calls in afterEach.
 */
import { createActor } from 'xstate';
import type { AgentEvent, EventType, Role } from '../../machines/frames.ts';
import { payloadHash } from '../../machines/hash.ts';
import { hubMachine, type HubInput, type HubRef } from '../../machines/hub.ts';
import { Directory } from '../../machines/identity.ts';
import type { ClientConfig } from '../../machines/client-connection.ts';
import { Random } from '../../sim/random.ts';
import { createClient, type ClientActor } from '../../transport/client-endpoint.ts';
import type { CloseInfo, ConnectRequest, LinkHandler, Transport } from '../../transport/link.ts';
import { createServerHandler, servingHub } from '../../transport/server-endpoint.ts';
import { cryptoSessionIds } from '../../transport/session-ids.ts';
import { WsTransport, type WsTransportOptions } from '../../transport/ws-transport.ts';

export const tokenOf = (tenant: string, user: string): string => `tok:${tenant}:${user}`;

export interface Received {
  thread: string;
  seq: number;
  event: AgentEvent;
  at: number;
}

/** What one client's app saw. */
export class AppRecord {
  readonly received: Received[] = [];
  readonly resyncs: { thread: string; from: number; to: number; reason: string }[] = [];
  readonly rejected: string[] = [];
  readonly closes: CloseInfo[] = [];

  keys(): string[] {
    return this.received.map((r) => keyOf(r.event));
  }
}

export const keyOf = (e: AgentEvent): string => `${e.tenant}/${e.user}/${e.thread}/${e.run}#${e.idx}`;

const FIVE: EventType[] = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed'];

/** The five events of one run, in producer order. */
export function runEvents(tenant: string, user: string, thread: string, run: string, payloadBytes = 32): AgentEvent[] {
  return FIVE.map((type, idx) => {
    const payload = `${run}:${idx}:`.padEnd(payloadBytes, 'x');
    return {
      tenant, user, thread, run, idx, type, sensitivity: 'public', payload, hash: payloadHash(payload),
      ...(type === 'tool_executing' || type === 'tool_completed' ? { toolId: `${run}-tool` } : {}),
    };
  });
}

/** `count` events on one stream: whole runs of five (the run contract holds). */
export function streamEvents(tenant: string, user: string, thread: string, count: number, payloadBytes = 32, prefix = 'r'): AgentEvent[] {
  const out: AgentEvent[] = [];
  for (let r = 0; out.length < count; r++) out.push(...runEvents(tenant, user, thread, `${prefix}${r}`, payloadBytes));
  return out.slice(0, count);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll until `cond` holds; fail with `what` after `timeoutMs`. Never unbounded. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export interface UserSpec {
  tenant: string;
  user: string;
  role?: Role;
}

export interface WorldOptions {
  users: UserSpec[];
  hub?: Partial<Omit<HubInput, 'directory' | 'epoch'>>;
  transport?: WsTransportOptions;
}

export interface ClientOptions {
  tenant: string;
  user: string;
  tab?: number;
  threads: string[];
  token?: string;
  config?: Partial<ClientConfig>;
}

export interface TestClient {
  id: string;
  actor: ClientActor;
  app: AppRecord;
}

export class RealWorld {
  readonly hub: HubRef;
  readonly rejectedByServer: { link: string; code: string }[] = [];
  readonly clients: TestClient[] = [];
  /** Publish time of each event key (performance.now()). */
  readonly publishedAt = new Map<string, number>();
  private seeds = 0;

  private constructor(readonly transport: WsTransport, readonly directory: Directory, options: WorldOptions) {
    for (const u of options.users) this.directory.add(tokenOf(u.tenant, u.user), { tenant: u.tenant, user: u.user, role: u.role ?? 'admin', threads: '*' });
    // a real server's connection ids: unguessable
    this.hub = createActor(servingHub(), { input: { epoch: 'e1', directory: this.directory, sessionIds: cryptoSessionIds, ...options.hub } }).start();
    transport.listen(
      createServerHandler({
        hub: () => this.hub,
        observer: { rejected: (link, code) => this.rejectedByServer.push({ link, code }) },
      }),
    );
  }

  static async start(options: WorldOptions): Promise<RealWorld> {
    const directory = new Directory();
    const transport = await WsTransport.start({ authenticate: (token) => directory.authenticate(token), ...options.transport });
    return new RealWorld(transport, directory, options);
  }

  get server() {
    return this.transport.server!;
  }

  /** A real client machine over the real transport; its closes are recorded too. */
  client(options: ClientOptions): TestClient {
    const id = `${options.tenant}/${options.user}/${options.tab ?? 0}`;
    const app = new AppRecord();
    const recording: Transport = {
      listen: () => {},
      connect: (request: ConnectRequest, handler: LinkHandler) =>
        this.transport.connect(request, {
          ...handler,
          onOpen: () => handler.onOpen(),
          onFrame: (data) => handler.onFrame(data),
          onClose: (info) => {
            app.closes.push(info);
            handler.onClose(info);
          },
        }),
    };
    const actor = createClient({
      id,
      endpoint: id,
      token: options.token ?? tokenOf(options.tenant, options.user),
      threads: options.threads,
      transport: recording,
      random: Random.seeded(++this.seeds),
      ...(options.config ? { config: options.config } : {}),
      app: {
        deliver: (thread, seq, event) => {
          app.received.push({ thread, seq, event, at: performance.now() });
          return { ok: true };
        },
        appFailed: () => {},
        deadLetter: () => {},
        resync: (thread, from, to, reason) => app.resyncs.push({ thread, from, to, reason }),
        rejected: (code) => app.rejected.push(code),
      },
    });
    actor.start();
    actor.send({ type: 'START' });
    const client = { id, actor, app };
    this.clients.push(client);
    return client;
  }

  publish(events: readonly AgentEvent[]): void {
    for (const event of events) {
      this.publishedAt.set(keyOf(event), performance.now());
      this.hub.send({ type: 'PUBLISH', event });
    }
  }

  /** The server side of a client's current connection (the server names links itself; the client's endpoint hint finds it). */
  serverLinkOf(clientId: string) {
    return this.server.links().filter((l) => l.request.endpoint === clientId).at(-1);
  }

  async waitOpen(client: TestClient, timeoutMs = 5000): Promise<void> {
    await waitFor(() => client.actor.getSnapshot().matches('open') && client.actor.getSnapshot().context.epoch !== null, `${client.id} open`, timeoutMs);
    // subscribed on the server too: the hub routes to it from now on
    const subscribed = () => {
      const link = this.serverLinkOf(client.id)?.id;
      return [...this.hub.getSnapshot().context.sessions.values()].some((s) => s.getSnapshot().context.link === link && Object.keys(s.getSnapshot().context.streams).length > 0);
    };
    await waitFor(subscribed, `${client.id} subscribed`, timeoutMs);
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.actor.stop();
    await this.transport.close();
    this.hub.stop();
  }
}

/** p-th percentile (0..100) of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
