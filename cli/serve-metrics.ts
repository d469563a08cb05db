/**
 * GET /metrics: Prometheus text (prom-client), read from the server's stats
 * at scrape time, so a scrape costs nothing between scrapes.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { WsimServerStats } from '../src/server.ts';

type Stats = () => WsimServerStats | null;

export interface HttpCounts {
  publishRequests: Record<number, number>;
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

function counter(registry: Registry, name: string, help: string, read: () => Record<string, number>, label?: string): void {
  new Counter({
    name,
    help,
    labelNames: label ? [label] : [],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, n] of Object.entries(read())) {
        if (label) this.inc({ [label]: value }, n);
        else this.inc(n);
      }
    },
  });
}

export function metricsRegistry(stats: Stats, http: HttpCounts, clustered = false): Registry {
  const registry = new Registry();
  const total = (pick: (s: WsimServerStats) => number) => () => ({ all: pick(stats() ?? emptyStats) });
  gauge(registry, 'wsim_connections', 'open WebSocket connections', () => stats()?.connections ?? 0);
  gauge(registry, 'wsim_sessions', 'protocol sessions', () => stats()?.sessions ?? 0);
  // a cluster node only (--redis): 1 while its store link is up
  if (clustered) gauge(registry, 'wsim_store_up', 'the Redis store link is up (1) or down (0)', () => (stats()?.store?.up ? 1 : 0));
  counter(registry, 'wsim_published_total', 'events appended by publish', total((s) => s.published));
  counter(registry, 'wsim_publish_repeats_total', 'retried publishes answered without appending', total((s) => s.repeats));
  counter(registry, 'wsim_delivered_total', 'events acknowledged by clients', total((s) => s.delivered));
  counter(registry, 'wsim_retransmits_total', 'event frames sent again', total((s) => s.retransmits));
  counter(registry, 'wsim_resyncs_total', 'streams resumed with an explicit resync', total((s) => s.resyncs));
  counter(registry, 'wsim_shed_total', 'connections shed with 1013 (slow consumers)', total((s) => s.shed));
  counter(registry, 'wsim_rejected_total', 'refused frames and upgrades, by code', () => stats()?.rejected ?? {}, 'code');
  counter(registry, 'wsim_publish_requests_total', 'POST /v1/publish answers, by HTTP status', () => http.publishRequests, 'status');
  return registry;
}

const emptyStats: WsimServerStats = {
  published: 0,
  repeats: 0,
  delivered: 0,
  retransmits: 0,
  resyncs: 0,
  rejected: {},
  connections: 0,
  sessions: 0,
  shed: 0,
  upgradesRefused: 0,
};
