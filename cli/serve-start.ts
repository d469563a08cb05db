/**
 * What `wsim serve` serves, started in-process (the command, and specs that
 * need the server's hand, e.g. to cut a browser's socket): WS /ws, the HTTP
 * API, metrics, and the demo when asked.
 */
import http from 'node:http';
import os from 'node:os';
import { createWsimServer, type WsimServer, type WsimServerLimits } from '../src/server.ts';
import { DEMO_IDENTITY, DEMO_TOKEN, demoRoutes, startDemoProducer } from './serve-demo.ts';
import { httpApi } from './serve-http.ts';
import { metricsRegistry, type HttpCounts } from './serve-metrics.ts';
import { DEFAULT_PUBLISH_RATE, type Rate } from './serve-rate.ts';
import type { Tokens } from './serve-tokens.ts';

export interface ServeOptions {
  host: string;
  port: number;
  tokens: Tokens;
  demo: boolean;
  publishSecret: string | undefined;
  publishRate?: Rate;
  maxBodyBytes?: number;
  limits?: WsimServerLimits;
  /** Share the streams through Redis at this URL (a cluster node); checked by the caller. */
  redis?: string;
  /** This node's name (default hostname:pid). */
  node?: string;
}

export interface Serving {
  /** http://host:port */
  url: string;
  /** ws://host:port/ws */
  ws: string;
  node: string;
  wsim: WsimServer;
  close(): Promise<void>;
}

/** Starts everything `wsim serve` serves; rejects with the listen error (EADDRINUSE...). */
export async function startServe(options: ServeOptions): Promise<Serving> {
  let wsim: WsimServer | null = null;
  const counts: HttpCounts = { publishRequests: {} };
  const extra = options.demo ? await demoRoutes() : undefined;
  const server = http.createServer(
    httpApi({
      wsim: () => wsim,
      publishSecret: options.publishSecret,
      publishRate: options.publishRate ?? DEFAULT_PUBLISH_RATE,
      metrics: metricsRegistry(() => wsim?.stats() ?? null, counts, options.redis !== undefined),
      counts,
      ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
      ...(extra ? { extra } : {}),
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const tokens = options.demo ? { [DEMO_TOKEN]: DEMO_IDENTITY, ...options.tokens } : options.tokens;
  const node = options.node ?? `${os.hostname()}:${process.pid}`;
  // the Redis client is loaded only by a cluster node
  const store = options.redis !== undefined ? new (await import('../transport/redis-store.ts')).RedisStore({ url: options.redis, capacity: options.limits?.logCapacity ?? 10_000 }) : undefined;
  const started = await createWsimServer({ server, path: '/ws', tokens, ...(options.limits ? { limits: options.limits } : {}), ...(store ? { store, node } : {}) });
  wsim = started;
  const stopDemo = options.demo ? startDemoProducer(started) : () => {};
  const { port } = server.address() as { port: number };
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    ws: `ws://${host}:${port}/ws`,
    node,
    wsim: started,
    close() {
      closing ??= (async () => {
        stopDemo();
        await started.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
