/**
 * `wsim serve --demo`: a page at / that shows agent runs arriving live through
 * the browser client (dist/browser/wsim-client.js, served at /wsim-client.js),
 * and a built-in producer of fake agent runs so there is something to watch.
 * The producer publishes through the same `publish` as POST /v1/publish.
 */
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import type { Identity } from '../machines/identity.ts';
import type { WsimServer } from '../src/server.ts';
import { DEMO_PAGE } from './serve-demo-page.ts';

export const DEMO_TOKEN = 'demo';
export const DEMO_IDENTITY: Identity = { tenant: 'demo', user: 'demo', role: 'admin', threads: '*' };
const DEMO_THREADS = ['support', 'research'];

/** The browser bundle: the package's own build, or (running from the TypeScript sources) built from them now. */
async function browserBundle(): Promise<string> {
  if (!import.meta.url.endsWith('.ts')) return readFile(new URL('../browser/wsim-client.js', import.meta.url), 'utf8');
  const { build } = await import('esbuild');
  const out = await build({ entryPoints: [new URL('../src/browser.ts', import.meta.url).pathname], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
  return out.outputFiles[0]!.text;
}

/** The demo's routes: the page, and the bundle it imports. */
export async function demoRoutes(): Promise<(req: http.IncomingMessage, res: http.ServerResponse) => boolean> {
  const bundle = await browserBundle();
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET') return false;
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(DEMO_PAGE);
    else if (path === '/wsim-client.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    else return false;
    return true;
  };
}

/** One fake run's steps: started, thinking, a tool call or two with results, completed. */
function fakeRun(n: number): { type: string; toolId?: string; payload: string }[] {
  const tools = n % 3 === 0 ? ['search', 'summarise'] : ['search'];
  return [
    { type: 'agent_started', payload: `run ${n}: answer a question` },
    { type: 'agent_thinking', payload: 'reading the question…' },
    ...tools.flatMap((tool) => [
      { type: 'tool_executing', toolId: `${tool}-${n}`, payload: `${tool}(query ${n})` },
      { type: 'tool_completed', toolId: `${tool}-${n}`, payload: `${tool}: ${3 + (n % 5)} results` },
    ]),
    { type: 'agent_thinking', payload: 'writing the answer…' },
    { type: 'agent_completed', payload: `answer ${n}` },
  ];
}

/** Starts a new run every `everyMs`, one event every `stepMs`; returns its stop. */
export function startDemoProducer(wsim: WsimServer, everyMs = 2500, stepMs = 400): () => void {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let runs = 0;
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    timers.add(timer);
  };
  const startRun = () => {
    const n = ++runs;
    const thread = DEMO_THREADS[n % DEMO_THREADS.length]!;
    fakeRun(n).forEach((step, idx) => later(idx * stepMs, () => void wsim.publishStored({ tenant: DEMO_IDENTITY.tenant, user: DEMO_IDENTITY.user, thread, run: `run-${n}`, idx, ...step })));
    later(everyMs, startRun);
  };
  startRun();
  return () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };
}
