/**
 * The HTTP side of `wsim serve`: the publish API for producers in any
 * language, roles, health and metrics (and the demo page when asked). Every
 * refusal is one JSON object `{"error":{"code","message","field"?}}` with
 * 400, 401, 404, 405, 413, 429 or 503; nothing is appended by a refused call.
 */
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { ROLES, type Role } from '../machines/frames.ts';
import type { WsimServer } from '../src/server.ts';
import { EventBudget, type Rate } from './serve-rate.ts';
import type { HttpCounts } from './serve-metrics.ts';
import type { Registry } from 'prom-client';

export interface HttpApiOptions {
  /** The server, once it is up (null before: 503). */
  wsim: () => WsimServer | null;
  /** WSIM_PUBLISH_SECRET; undefined = publishing refused (401). */
  publishSecret: string | undefined;
  /** Largest request body (default 8 MB). */
  maxBodyBytes?: number;
  publishRate: Rate;
  metrics: Registry;
  counts: HttpCounts;
  /** Extra routes (the demo page); answers true when it handled the request. */
  extra?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

interface ApiError {
  status: number;
  code: string;
  message: string;
  field?: string;
}

const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function fail(res: http.ServerResponse, e: ApiError): void {
  send(res, e.status, { error: { code: e.code, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) } });
}

function authorised(req: http.IncomingMessage, secret: string | undefined): ApiError | null {
  if (!secret) return { status: 401, code: 'unauthorized', message: 'publishing is off: the server has no WSIM_PUBLISH_SECRET' };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  const given = Buffer.from(match?.[1] ?? '');
  const expected = Buffer.from(secret);
  if (given.length === expected.length && timingSafeEqual(given, expected)) return null;
  return { status: 401, code: 'unauthorized', message: 'missing or wrong Bearer publish secret' };
}

/** The request body as JSON, within the size limit. */
async function readJson(req: http.IncomingMessage, maxBytes: number): Promise<{ ok: true; value: unknown } | { ok: false; error: ApiError }> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge: ApiError = { status: 413, code: 'too_large', message: `request body over ${maxBytes} bytes` };
  if (declared > maxBytes) return { ok: false, error: tooLarge };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return { ok: false, error: tooLarge };
    chunks.push(chunk);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch (error) {
    return { ok: false, error: { status: 400, code: 'malformed_json', message: (error as Error).message } };
  }
}

async function publish(req: http.IncomingMessage, res: http.ServerResponse, options: HttpApiOptions, budget: EventBudget, wsim: WsimServer): Promise<number> {
  const denied = authorised(req, options.publishSecret);
  if (denied) return answer(res, denied);
  const body = await readJson(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY);
  if (!body.ok) return answer(res, body.error);
  const events = Array.isArray(body.value) ? body.value.length : 1;
  if (!budget.take(events)) return answer(res, { status: 429, code: 'rate_limited', message: `over ${options.publishRate.perSecond} events/s: retry later` });
  const result = await wsim.publishStored(body.value);
  // a store that did not acknowledge: nothing is claimed stored, the producer retries (idempotent)
  if (!result.ok && 'unavailable' in result) return answer(res, { status: 503, code: 'store_unavailable', message: result.unavailable });
  if (!result.ok) return answer(res, { status: result.error.code === 'too_large' ? 413 : 400, ...result.error });
  send(res, 200, { accepted: result.accepted.map(({ thread, seq }) => ({ thread, seq })) });
  return 200;
}

function answer(res: http.ServerResponse, e: ApiError): number {
  fail(res, e);
  return e.status;
}

async function roles(req: http.IncomingMessage, res: http.ServerResponse, options: HttpApiOptions, wsim: WsimServer): Promise<void> {
  const denied = authorised(req, options.publishSecret);
  if (denied) return fail(res, denied);
  const body = await readJson(req, 64 * 1024);
  if (!body.ok) return fail(res, body.error);
  const o = (typeof body.value === 'object' && body.value !== null && !Array.isArray(body.value) ? body.value : {}) as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !['tenant', 'user', 'role'].includes(k));
  if (extra !== undefined) return fail(res, { status: 400, code: 'unknown_field', message: `unknown field ${extra}`, field: extra });
  for (const field of ['tenant', 'user'] as const) {
    if (typeof o[field] !== 'string' || o[field] === '') return fail(res, { status: 400, code: 'bad_field', message: `${field} must be a non-empty string`, field });
  }
  if (!ROLES.includes(o.role as Role)) return fail(res, { status: 400, code: 'bad_field', message: `role must be one of ${ROLES.join(', ')}`, field: 'role' });
  wsim.setRole(o.tenant as string, o.user as string, o.role as Role);
  send(res, 200, { tenant: o.tenant, user: o.user, role: o.role });
}

type Route = (req: http.IncomingMessage, res: http.ServerResponse, wsim: WsimServer) => Promise<void> | void;

export function httpApi(options: HttpApiOptions): http.RequestListener {
  const budget = new EventBudget(options.publishRate);
  const routes: Record<string, { method: string; run: Route }> = {
    '/v1/publish': {
      method: 'POST',
      run: async (req, res, wsim) => {
        const status = await publish(req, res, options, budget, wsim);
        options.counts.publishRequests[status] = (options.counts.publishRequests[status] ?? 0) + 1;
      },
    },
    '/v1/roles': { method: 'POST', run: (req, res, wsim) => roles(req, res, options, wsim) },
    '/healthz': {
      method: 'GET',
      run: (_req, res, wsim) => {
        const { connections, store } = wsim.stats();
        // a node whose store link is down cannot store a publish: a load balancer should steer producers away
        if (store && !store.up) return send(res, 503, { status: 'store_down', connections, store });
        send(res, 200, { status: 'ok', connections, ...(store ? { store } : {}) });
      },
    },
    '/metrics': {
      method: 'GET',
      run: async (_req, res) => {
        const text = await options.metrics.metrics();
        res.writeHead(200, { 'content-type': options.metrics.contentType }).end(text);
      },
    },
  };
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = routes[path];
    const wsim = options.wsim();
    if (!route) {
      if (options.extra?.(req, res)) return;
      return fail(res, { status: 404, code: 'not_found', message: `no route ${path}` });
    }
    if (req.method !== route.method) return fail(res, { status: 405, code: 'method_not_allowed', message: `${path} takes ${route.method}` });
    if (!wsim) return fail(res, { status: 503, code: 'not_ready', message: 'starting or stopping' });
    Promise.resolve(route.run(req, res, wsim)).catch((error: unknown) => {
      // a bug, not bad input: answer 500 once and keep serving
      if (!res.headersSent) fail(res, { status: 500, code: 'internal', message: (error as Error).message });
    });
  };
}
