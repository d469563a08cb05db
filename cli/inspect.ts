/**
 * `wsim inspect`: watch a run's actors (hub, sessions, clients, agent runs) in
 * the Stately inspector.
 *
 * `@statelyai/inspect` in Node is two pieces: `createInspectorServer` (an HTTP
 * page at http://localhost:PORT that embeds https://stately.ai/inspect in an
 * iframe, plus a WebSocket relay on the same port that forwards every message
 * a client sends to all the other clients) and `createWebSocketInspector`
 * (a client of that relay that our run feeds). A browser opening the page
 * becomes the relay's other client.
 *
 * The world runs in simulated time, synchronously, in a few hundred wall
 * milliseconds — too fast to watch, and the library's own `inspect` observer
 * converts each event on a later tick (reading `actorRef.getSnapshot()` then,
 * i.e. the end state). So each inspection event is converted to the Stately
 * format the moment it happens, tagged with the simulated time (the actor's
 * clock is the world's `SimClock`, which has `now()`), and replayed through
 * the inspector's adapter at `pace` × real time.
 */
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { platform } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWebSocketInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import type { Command } from 'commander';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import { runAt } from '../sim/scenario.ts';
import { SCENARIO_IDS, findScenario } from '../sim/scenarios/index.ts';
import { formatDuration } from './duration.ts';
import { defaultSeed } from './env.ts';
import { path, port, positive, scenarioOption, seconds, seed, variantOf, variantOption, whole } from './options.ts';
import { UsageError, unknownMessage } from './usage.ts';

/** The inspector UI the relay's page embeds (the library's default). */
export const STATELY_INSPECT_URL = 'https://stately.ai/inspect';
const VERSION = '0.7.2';

// ---------------------------------------------------------------- capture

export interface CapturedEvent {
  /** Simulated ms when it happened. */
  t: number;
  event: StatelyInspectionEvent;
}

const LIMITS = { depth: 6, entries: 50, string: 200 } as const;

const isActorRef = (v: object): v is AnyActorRef =>
  typeof (v as { sessionId?: unknown }).sessionId === 'string' && typeof (v as { send?: unknown }).send === 'function';

/**
 * Plain JSON of a context or an event, readable in the inspector: Maps as
 * objects, actor refs as their id, long payloads cut, depth and size bounded
 * (a hub's context holds every session; a payload may be 1 MB).
 */
export function plain(v: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > LIMITS.string ? `${v.slice(0, LIMITS.string)}…(${v.length} chars)` : v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'function') return { type: v.name || 'function' };
  if (typeof v !== 'object') return undefined;
  if (isActorRef(v)) return { actor: v.id };
  if (seen.has(v)) return '[circular]';
  if (depth >= LIMITS.depth) return '[…]';
  seen.add(v);
  try {
    const entries: [string, unknown][] =
      v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x])
      : v instanceof Set || Array.isArray(v) ? [...(v as Iterable<unknown>)].map((x, i) => [String(i), x])
      : Object.entries(v);
    const kept = entries.slice(0, LIMITS.entries).map(([k, x]) => [k, plain(x, depth + 1, seen)] as const);
    const more = entries.length - kept.length;
    if (Array.isArray(v) || v instanceof Set) {
      const list = kept.map(([, x]) => x);
      return more > 0 ? [...list, `…(${more} more)`] : list;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of kept) if (x !== undefined) out[k] = x;
    if (more > 0) out['…'] = `${more} more`;
    return out;
  } finally {
    seen.delete(v);
  }
}

/** A snapshot as the inspector reads it: status, state value, context, output. */
function inspectedSnapshot(s: unknown): { status?: string; value?: unknown; context?: unknown; output?: unknown } {
  if (typeof s !== 'object' || s === null) return { status: 'active' };
  const o = s as { status?: string; value?: unknown; context?: unknown; output?: unknown };
  return { status: o.status ?? 'active', ...(o.value !== undefined ? { value: plain(o.value) } : {}), ...(o.context !== undefined ? { context: plain(o.context) } : {}), ...(o.output !== undefined ? { output: plain(o.output) } : {}) };
}

/**
 * The event with its snapshot, kept by reference and converted when read:
 * every machine's context is immutable data changed by `assign` only, so each
 * snapshot is its own history (no copy is made at the time). What a context
 * lends by reference (the hub's replay logs and routing index) shows as it is
 * when read.
 */
function withSnapshot<T extends object>(event: T, snapshot: unknown): T & { snapshot: ReturnType<typeof inspectedSnapshot> } {
  let converted: ReturnType<typeof inspectedSnapshot> | undefined;
  return Object.defineProperty(event, 'snapshot', { enumerable: true, get: () => (converted ??= inspectedSnapshot(snapshot)) }) as T & { snapshot: ReturnType<typeof inspectedSnapshot> };
}

/**
 * Records every inspection event, converted now (the snapshot and context as
 * they are at this instant) and stamped with the simulated time.
 */
export function createCapture(): { inspect: (e: InspectionEvent) => void; events: CapturedEvent[] } {
  const events: CapturedEvent[] = [];
  const definitions = new WeakMap<object, string>();
  let now = 0;
  const base = (rootId: string, ref: AnyActorRef) => ({ _version: VERSION, createdAt: '0', id: null as unknown as string, rootId, sessionId: ref.sessionId });
  const definitionOf = (ref: AnyActorRef): string => {
    const logic = (ref as { logic?: { config?: unknown } }).logic;
    const config = logic?.config;
    if (typeof config !== 'object' || config === null) return JSON.stringify({ id: ref.id });
    let d = definitions.get(config);
    // a machine's config as data (inline actions become their names); shared by all actors of the machine
    if (d === undefined) definitions.set(config, (d = JSON.stringify(plain(config, -20))));
    return d;
  };
  const inspect = (e: InspectionEvent): void => {
    const ref = e.actorRef as AnyActorRef;
    const clock = (ref as { clock?: { now?: () => number } }).clock;
    if (typeof clock?.now === 'function') now = clock.now();
    switch (e.type) {
      case '@xstate.actor': {
        let snapshot: unknown;
        try {
          snapshot = ref.getSnapshot();
        } catch {
          snapshot = undefined;
        }
        const config = (ref as { logic?: { config?: { id?: string } } }).logic?.config;
        const name = ref.id === ref.sessionId && config?.id ? config.id : ref.id;
        const parent = (ref as { _parent?: AnyActorRef })._parent;
        events.push({ t: now, event: withSnapshot({ ...base(e.rootId, ref), type: '@xstate.actor', name, definition: definitionOf(ref), parentId: parent?.sessionId }, snapshot) as unknown as StatelyInspectionEvent });
        return;
      }
      case '@xstate.event':
        events.push({ t: now, event: { ...base(e.rootId, ref), type: '@xstate.event', event: plain(e.event) as { type: string }, sourceId: e.sourceRef?.sessionId } as StatelyInspectionEvent });
        return;
      case '@xstate.snapshot':
        events.push({ t: now, event: withSnapshot({ ...base(e.rootId, ref), type: '@xstate.snapshot', event: plain(e.event) as { type: string } }, e.snapshot) as unknown as StatelyInspectionEvent });
        return;
      default:
        // microsteps, actions and transitions: the Stately inspector shows none of them
        return;
    }
  };
  return { inspect, events };
}

// ---------------------------------------------------------------- ports and browsers

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Can we listen on this port? (The relay cannot tell us: it throws from an event handler.) */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/** Until something accepts connections on the port (the relay listens on a later tick). */
async function listening(port: number, timeoutMs = 5000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await sleep(20);
  }
  return false;
}

/** Open a URL in the default browser; false when there is none to run. */
export function openBrowser(url: string): Promise<boolean> {
  const os = platform();
  const [cmd, args] = os === 'darwin' ? ['open', [url]] : os === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args as string[], { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
    child.unref();
  });
}

// ---------------------------------------------------------------- the session

export interface InspectOptions {
  scenario: string;
  seed: number;
  path: string;
  /** 0: any free port. */
  port: number;
  /** Simulated seconds per real second. */
  pace: number;
  /** A broken protocol variant to run (sim/variants.ts). */
  variant?: string;
}

export interface InspectSession {
  port: number;
  /** The page to open: the Stately inspector, fed by the relay. */
  url: string;
  /** The relay, for any other client. */
  wsUrl: string;
  events: number;
  simulatedMs: number;
  passed: boolean;
  traceHash: string;
}

/** Bad input to `wsim inspect`: one line, exit 2. */
export class InspectUsage extends UsageError {
  constructor(message: string) {
    super('inspect', message);
  }
}

export interface InspectHooks {
  /** The relay is up: connect whoever watches. */
  ready?: (s: InspectSession) => void | Promise<void>;
  /** Every event is sent: the relay stays up until this resolves (a person is still looking). */
  hold?: (s: InspectSession & { sent: number }) => Promise<void>;
  log?: (line: string) => void;
}

/** The run at (scenario, seed, path), or the one-line reason there is none. */
function runOf(o: InspectOptions, inspect: (e: InspectionEvent) => void): NonNullable<ReturnType<typeof runAt>> {
  const scenario = findScenario(o.scenario);
  if (!scenario) throw new InspectUsage(unknownMessage('scenario', o.scenario, SCENARIO_IDS, 'list them: wsim run --list'));
  let outcome: ReturnType<typeof runAt>;
  try {
    outcome = runAt(scenario, { seed: o.seed, path: o.path, inspect, ...variantOf(o.variant) });
  } catch {
    // fast-check refuses a path its seed cannot reach ("Unable to replay")
    outcome = undefined;
  }
  if (!outcome) throw new InspectUsage(`path ${o.path} does not fit seed ${o.seed} of ${o.scenario}: take the path printed with that seed`);
  return outcome;
}

/**
 * Run the scenario, start the relay, let `ready` connect whoever watches,
 * replay every event at `pace` × real time, wait for `hold`, and close.
 * Resolves with the number of events sent.
 */
export async function inspectRun(o: InspectOptions, hooks: InspectHooks = {}): Promise<InspectSession & { sent: number }> {
  if (!(o.pace > 0) || !Number.isFinite(o.pace)) throw new InspectUsage(`--pace must be a number > 0, got ${o.pace}`);
  if (o.port !== 0 && !(await portIsFree(o.port))) throw new InspectUsage(`port ${o.port} is in use (try --port 0 for any free port)`);
  const capture = createCapture();
  const outcome = runOf(o, capture.inspect);
  const events = capture.events;
  hooks.log?.(`wsim inspect: ${o.scenario} seed ${o.seed} path ${o.path}: ${outcome.passed ? 'passed' : 'FAILED'}, ${events.length} inspection events over ${formatDuration(outcome.result.endedAt / 1000)} simulated`);

  const port = o.port === 0 ? await freePort() : o.port;
  const server = createInspectorServer({ port, autoOpen: false });
  try {
    if (!(await listening(port))) throw new Error(`the inspector relay did not start on port ${port}`);
    const wsUrl = `ws://localhost:${port}`;
    // every event is kept until the relay connection is open, then sent in order
    const inspector = createWebSocketInspector({ url: wsUrl, maxDeferredEvents: Number.POSITIVE_INFINITY });
    try {
      // the adapter's state is not public; a short wait beats losing the first events to a reconnect
      const adapter = inspector.adapter as unknown as { status?: string };
      for (let i = 0; i < 150 && adapter.status !== 'open'; i++) await sleep(20);
      const session: InspectSession = { port, url: `http://localhost:${port}`, wsUrl, events: events.length, simulatedMs: outcome.result.endedAt, passed: outcome.passed, traceHash: outcome.traceHash };
      await hooks.ready?.(session);
      const started = Date.now();
      let sent = 0;
      let lastReport = 0;
      for (const { t, event } of events) {
        const due = started + t / o.pace;
        const wait = due - Date.now();
        if (wait > 1) await sleep(wait);
        inspector.adapter.send({ ...event, createdAt: String(Date.now()) } as StatelyInspectionEvent);
        sent++;
        if (t - lastReport >= 10_000) {
          lastReport = t;
          hooks.log?.(`wsim inspect: ${formatDuration(t / 1000)} simulated, ${sent}/${events.length} events sent`);
        }
      }
      // let the socket drain before closing it
      await sleep(300);
      await hooks.hold?.({ ...session, sent });
      return { ...session, sent };
    } finally {
      inspector.stop();
    }
  } finally {
    server.stop();
  }
}

// ---------------------------------------------------------------- the command

interface InspectCliOptions {
  scenario?: string;
  seed?: number;
  path?: string;
  open: boolean;
  port: number;
  pace: number;
  wait: number;
  exitAfter?: number;
  variant?: string;
}

/**
 * After the replay, the inspector still shows the actors as they ended: the
 * relay stays up for the person looking, until Ctrl-C (or --exit-after S).
 */
function holdUntilDone(exitAfter: number | undefined, log: (line: string) => void) {
  return (s: InspectSession & { sent: number }): Promise<void> => {
    log(`wsim inspect: replay done, ${s.sent} events sent; the inspector at ${s.url} keeps them. ${exitAfter === undefined ? 'Ctrl-C to quit' : `Leaving in ${formatDuration(exitAfter)} (--exit-after)`}`);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        resolve();
      };
      const timer = exitAfter === undefined ? undefined : setTimeout(done, exitAfter * 1000);
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
  };
}

export async function inspectCommand(o: InspectCliOptions): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (o.scenario === undefined) throw new InspectUsage('--scenario ID is required; wsim run --list shows the ids');
  const done = await inspectRun(
    { scenario: o.scenario, seed: o.seed ?? defaultSeed(), path: o.path ?? '0', port: o.port, pace: o.pace, ...(o.variant ? { variant: o.variant } : {}) },
    {
      log,
      ready: async (s) => {
        process.stdout.write(`Stately inspector: ${s.url}\n`);
        log(`wsim inspect: look at ${s.url} (the page embeds ${STATELY_INSPECT_URL}, fed by the relay at ${s.wsUrl}); the replay runs at ${o.pace}× real time and takes ${formatDuration(s.simulatedMs / o.pace / 1000)}`);
        if (o.open && !(await openBrowser(s.url))) log(`wsim inspect: could not open a browser; open ${s.url}`);
        if (o.wait > 0) {
          log(`wsim inspect: starting in ${formatDuration(o.wait / 1000)}: open the page before then to see it from the start`);
          await sleep(o.wait);
        }
      },
      hold: holdUntilDone(o.exitAfter, log),
    },
  );
  return done.sent === done.events ? 0 : 1;
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('watch a run in the Stately inspector (@statelyai/inspect), paced for a person; stays up until Ctrl-C')
    .addOption(scenarioOption('the scenario to run (wsim run --list shows them)'))
    .addOption(variantOption())
    .option('--seed <n>', 'the seed the run was started from (default: SIM_SEED or 42)', seed)
    .option('--path <p>', 'the run (or fast-check path) to show (default: 0)', path)
    .option('--no-open', 'do not launch a browser; print the URL')
    .option('--port <p>', 'port of the inspector relay and page (0: any free port)', port, 8080)
    .option('--pace <x>', 'simulated time per real time (1: real time)', positive, 10)
    .option('--wait <ms>', 'before the replay starts, time for the page to connect', whole, 3000)
    .option('--exit-after <s>', 'leave S seconds after the replay (default: stay until Ctrl-C)', seconds)
    .action(async (o: InspectCliOptions) => {
      process.exitCode = await inspectCommand(o);
    });
}
