/**
 * A trace as ONE self-contained HTML file: a sequence diagram drawn as SVG by
 * inline JS from the trace data embedded as JSON. No network: no CDN, no
 * fonts, no external style sheets, so the file opens anywhere, offline.
 *
 * Lanes (derived from the records): producers (one per run), the hub, the
 * network (faults), then per client endpoint its sessions (all links of that
 * endpoint share one lane), its client machine and its app. Rows follow the
 * trace order; records of the same instant on different lanes share a row.
 * A frame is an arrow from its `send` to its `deliver`, matched by link,
 * direction and frame text in FIFO order (a corrupted frame no longer matches
 * and shows as a tick where it lands); drops end in a red ✗, duplicates add an
 * orange arrow. At most `maxRecords` records are drawn (a window around the
 * first violation when it lies beyond them), with a note.
 */
import type { Violation } from '../sim/oracle.ts';
import type { RecordOf, TraceRecord } from '../sim/records.ts';
import { formatMs, roundNumbers } from './duration.ts';
import { firstViolation } from './timeline-text.ts';
import {
  connOfLink,
  describe,
  eventName,
  explainViolation,
  faultPlanLine,
  formatTime,
  laneOf,
  offendingDelivery,
  runHeader,
  summarizeFrame,
  transitionSummary,
  type LaneKind,
} from './timeline-model.ts';

export interface HtmlOptions {
  violations?: Violation[];
  title?: string;
  /** Records drawn at most (default 5,000). */
  maxRecords?: number;
  /** The seed the user typed (the trace itself knows only the world seed). */
  seed?: number;
}

/** An arrow's fate (numbers in the embedded data). */
const Fate = {
  Delivered: 0,
  /** Lost on the way (drop, partition, half-open): ✗ half way. */
  Lost: 1,
  /** Arrived at a closed endpoint: ✗ at the receiver. */
  Refused: 2,
  /** Never arrived within the drawn window. */
  Pending: 3,
} as const;
type Fate = (typeof Fate)[keyof typeof Fate];

interface LaneOut {
  kind: LaneKind;
  label: string;
  group?: string;
}

/** One drawn item: row, lane, class, short label, full text. */
type Item = [row: number, lane: number, cls: string, label: string, tip: string];

interface ArrowOut {
  /** from row, from lane, to row, to lane, fate, direction c2s?, label, duplicate? */
  r0: number;
  l0: number;
  r1: number;
  l1: number;
  fate: Fate;
  c2s: boolean;
  label: string;
  tip: string;
  dup: boolean;
  /** The hub routing an event to a session (from its production to the session's first send of it). */
  route?: boolean;
}

export interface HtmlData {
  title: string;
  /** Run, fault plan, record counts, verdict. */
  header: string[];
  gauges: string[];
  note: string | null;
  lanes: LaneOut[];
  /** Simulated time of each row. */
  rows: number[];
  items: Item[];
  arrows: ArrowOut[];
  bands: { row: number; cls: string; label: string }[];
  /** The first violation: its row, its explanation, and the item of the offending delivery (drawn red). */
  violation: { row: number; lines: string[]; item: number | null } | null;
}

/** Events inside a (possibly clipped) s2c frame, as tenant/user/run#idx keys. */
function eventKeys(frame: string): string[] {
  return [...frame.matchAll(/"tenant":"([^"]*)","user":"([^"]*)","thread":"[^"]*","run":"([^"]*)","idx":(\d+)/g)].map((m) => `${m[1]}/${m[2]}/${m[3]}#${m[4]}`);
}

/** The plan's nominal transit time: a frame slower than this was delayed (reorder, bandwidth, a slow link). */
function nominalTransitMs(plan: unknown): number {
  const latency = (plan as { latency?: { baseMs?: unknown; jitterMs?: unknown } } | undefined)?.latency;
  const base = typeof latency?.baseMs === 'number' ? latency.baseMs : 0;
  const jitter = typeof latency?.jitterMs === 'number' ? latency.jitterMs : 0;
  return base + jitter;
}

const sessionLaneId = (link: string) => `session:${connOfLink(link)}`;

/** The lane key of a record in the HTML view (sessions grouped per endpoint; frames on both ends). */
function laneKey(r: TraceRecord): string | null {
  switch (r.k) {
    case 'run':
    case 'gauge':
    case 'end':
    case 'drop':
    case 'dup':
      return null;
    case 'link':
      return sessionLaneId(r.link);
    case 'transition':
    case 'send':
    case 'deliver':
    case 'reject': {
      const lane = laneOf(r);
      return lane.kind === 'session' ? sessionLaneId(lane.id) : `${lane.kind}:${lane.id}`;
    }
    default: {
      const lane = laneOf(r);
      return `${lane.kind}:${lane.id}`;
    }
  }
}

/** Which records to draw: all of them, or a window of `max` (around the first violation when it lies beyond). */
function window(records: readonly TraceRecord[], max: number, first: Violation | undefined): { from: number; to: number } {
  if (records.length <= max || !first) return { from: 0, to: Math.min(max, records.length) };
  let at = records.findIndex((r) => r.t > first.t);
  if (at < 0) at = records.length;
  if (at <= max * 0.9) return { from: 0, to: max };
  const from = Math.max(0, Math.min(records.length - max, at - Math.floor(max * 0.8)));
  return { from, to: from + max };
}

export function buildHtmlData(records: readonly TraceRecord[], opts: HtmlOptions = {}): HtmlData {
  const max = opts.maxRecords ?? 5000;
  const first = firstViolation(opts.violations);
  const run = records.find((r): r is RecordOf<'run'> => r.k === 'run');
  const { from, to } = window(records, max, first);
  const drawn = records.slice(from, to);

  // ---- lanes, in a fixed order: producers, hub, network, then per endpoint session | client | app
  const producers: string[] = [];
  const endpoints: string[] = [];
  const seenEndpoint = new Set<string>();
  const seenProducer = new Set<string>();
  for (const r of drawn) {
    const key = laneKey(r);
    if (key === null) continue;
    const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    if (kind === 'producer' && !seenProducer.has(id)) (seenProducer.add(id), producers.push(id));
    if ((kind === 'session' || kind === 'client' || kind === 'app') && !seenEndpoint.has(id)) (seenEndpoint.add(id), endpoints.push(id));
  }
  const lanes: LaneOut[] = [];
  const laneIndex = new Map<string, number>();
  const addLane = (key: string, lane: LaneOut) => {
    laneIndex.set(key, lanes.length);
    lanes.push(lane);
  };
  for (const id of producers) addLane(`producer:${id}`, { kind: 'producer', label: `run ${id}` });
  addLane('hub:hub', { kind: 'hub', label: 'hub' });
  addLane('network:network', { kind: 'network', label: 'network' });
  for (const id of endpoints) {
    addLane(`session:${id}`, { kind: 'session', label: `sessions ${id}#*`, group: id });
    addLane(`client:${id}`, { kind: 'client', label: `client ${id}`, group: id });
    addLane(`app:${id}`, { kind: 'app', label: `app ${id}`, group: id });
  }
  const hub = laneIndex.get('hub:hub')!;
  const network = laneIndex.get('network:network')!;

  // ---- rows. Each record takes the first row of its instant where its lane
  // (and, for an arrow, every lane it crosses) is free after its lane's last
  // row: lanes keep their order, different lanes share rows. Bands take a row
  // of their own and nothing of their instant goes above them.
  const rows: number[] = [];
  const laneLast = new Map<number, number>();
  let rowT = Number.NaN;
  let groupStart = 0;
  let floor = 0;
  const place = (t: number, lo: number, hi: number = lo, minRow = 0): number => {
    if (t !== rowT) {
      rowT = t;
      groupStart = rows.length;
    }
    let r = Math.max(groupStart, floor, minRow);
    for (let l = Math.min(lo, hi); l <= Math.max(lo, hi); l++) r = Math.max(r, (laneLast.get(l) ?? -1) + 1);
    while (rows.length <= r) rows.push(t);
    for (let l = Math.min(lo, hi); l <= Math.max(lo, hi); l++) laneLast.set(l, r);
    return r;
  };
  const rowFor = (t: number, lane: number): number => place(t, lane);
  const bandRow = (t: number): number => {
    if (t !== rowT) {
      rowT = t;
      groupStart = rows.length;
    }
    rows.push(t);
    floor = rows.length;
    return rows.length - 1;
  };

  const items: Item[] = [];
  const arrows: ArrowOut[] = [];
  const bands: HtmlData['bands'] = [];
  const pending = new Map<string, ArrowOut[]>();
  const frameKey = (r: { link: string; dir: string; frame: string }) => `${r.link}\u0000${r.dir}\u0000${r.frame}`;
  let violationRow: number | null = null;
  const healAt = run && typeof (run.faultPlan as { healAt?: unknown }).healAt === 'number' ? ((run.faultPlan as { healAt: number }).healAt) : 0;
  let healed = healAt <= 0;
  const nominal = nominalTransitMs(run?.faultPlan);
  const sentAt = new WeakMap<ArrowOut, number>();
  /** Row of each produced event (tenant/user/run#idx), and the session lanes it was routed to. */
  const producedRow = new Map<string, { row: number; label: string; routed: Set<number> }>();
  const offending = first ? offendingDelivery(first, records) : undefined;
  let offendingItem: number | null = null;

  for (const r of drawn) {
    if (first && violationRow === null && r.t > first.t) {
      violationRow = bandRow(first.t);
    }
    if (!healed && r.t >= healAt) {
      healed = true;
      bands.push({ row: bandRow(healAt), cls: 'heal', label: `faults heal at ${formatTime(healAt)} ms` });
    }
    const key = laneKey(r);
    const lane = key === null ? network : laneIndex.get(key)!;
    switch (r.k) {
      case 'run':
      case 'gauge':
        break;
      case 'end':
        bands.push({ row: bandRow(r.t), cls: 'end', label: describe(r) });
        break;
      case 'transition': {
        const link = r.actor.includes('#') ? `#${r.actor.slice(r.actor.lastIndexOf('#') + 1)} ` : '';
        items.push([rowFor(r.t, lane), lane, r.to === 'failed' || r.to === 'closed' ? 'st end' : 'st', `${link}${transitionSummary(r.from, r.to, true)}`, `${r.actor}: ${r.from || '∅'} → ${r.to} [${eventName(r.event)}]`]);
        break;
      }
      case 'send': {
        const receiver = laneIndex.get(r.dir === 'c2s' ? sessionLaneId(r.link) : `client:${connOfLink(r.link)}`) ?? lane;
        const row = rowFor(r.t, lane);
        const arrow: ArrowOut = { r0: row, l0: lane, r1: row, l1: receiver, fate: Fate.Pending, c2s: r.dir === 'c2s', label: summarizeFrame(r.frame), tip: `${formatTime(r.t)} ms ${describe(r)}`, dup: false };
        arrows.push(arrow);
        sentAt.set(arrow, r.t);
        if (r.dir === 's2c') {
          // the hub's routing: from where the event was produced to this session's first send of it
          for (const key of eventKeys(r.frame)) {
            const produced = producedRow.get(key);
            if (!produced || produced.routed.has(lane)) continue;
            produced.routed.add(lane);
            arrows.push({ r0: produced.row, l0: hub, r1: row, l1: lane, fate: Fate.Delivered, c2s: false, label: '', tip: `hub routes ${produced.label} to session ${r.link}`, dup: false, route: true });
          }
        }
        const k = frameKey(r);
        const queue = pending.get(k) ?? [];
        if (!pending.has(k)) pending.set(k, queue);
        queue.push(arrow);
        break;
      }
      case 'dup': {
        const queue = pending.get(frameKey(r));
        const original = queue?.[queue.length - 1];
        if (original && queue) {
          const copy: ArrowOut = { ...original, dup: true, label: `dup ${original.label}`, tip: `duplicated by the network: ${original.tip}` };
          arrows.push(copy);
          queue.push(copy);
          sentAt.set(copy, sentAt.get(original) ?? r.t);
        }
        items.push([rowFor(r.t, network), network, 'dup', `dup ${summarizeFrame(r.frame)}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      }
      case 'deliver':
      case 'drop': {
        const queue = pending.get(frameKey(r));
        const arrow = queue?.shift();
        if (queue && queue.length === 0) pending.delete(frameKey(r));
        if (arrow) {
          arrow.r1 = r.k === 'drop' && r.reason !== 'closed' ? arrow.r0 : place(r.t, arrow.l1, arrow.l1, arrow.r0);
          arrow.fate = r.k === 'deliver' ? Fate.Delivered : r.reason === 'closed' ? Fate.Refused : Fate.Lost;
          arrow.tip += r.k === 'deliver' ? ` — delivered at ${formatTime(r.t)} ms` : ` — ${r.reason === 'closed' ? 'arrived at a closed end' : `lost (${r.reason})`} at ${formatTime(r.t)} ms`;
          const transit = r.t - (sentAt.get(arrow) ?? r.t);
          // what the network did to it, on the network's own lane: lost, or held past the plan's latency
          if (r.k === 'drop' && r.reason !== 'closed') items.push([rowFor(r.t, network), network, 'drop', `✗ ${r.reason} ${arrow.label}`, `${formatTime(r.t)} ms ${describe(r)}`]);
          if (r.k === 'deliver' && transit > nominal + 1) items.push([rowFor(r.t, network), network, 'delay', `+${formatMs(transit - nominal)} ms late: ${arrow.label}`, `${formatTime(r.t)} ms ${describe(r)}: ${formatMs(transit)} ms on the way, the plan's latency is ${formatMs(nominal)} ms`]);
        } else if (r.k === 'deliver') {
          items.push([rowFor(r.t, lane), lane, 'dlv', `↘ ${summarizeFrame(r.frame)}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        } else {
          items.push([rowFor(r.t, network), network, 'drop', `✗ ${summarizeFrame(r.frame)}`, describe(r)]);
        }
        break;
      }
      case 'fault': {
        if (r.fault === 'reorder') items.push([rowFor(r.t, network), network, 'reorder', `↯ reorder ${r.target ?? ''}`, describe(r)]);
        else bands.push({ row: bandRow(r.t), cls: 'fault', label: describe(r) });
        break;
      }
      case 'produce': {
        const row = place(r.t, lane, hub);
        items.push([row, lane, 'prd', `${r.type} #${r.idx}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        producedRow.set(`${r.tenant}/${r.user}/${r.run}#${r.idx}`, { row, label: `${r.run}#${r.idx} (${r.type}, ${r.tenant}/${r.user})`, routed: new Set() });
        arrows.push({ r0: row, l0: lane, r1: row, l1: hub, fate: Fate.Delivered, c2s: true, label: '', tip: `PUBLISH ${r.run}#${r.idx}`, dup: false });
        break;
      }
      case 'app':
        if (r === offending) {
          // the delivery the violation is about: red, and its text says so
          offendingItem = items.length;
          items.push([rowFor(r.t, lane), lane, 'bad', `✗ ${r.type} ${r.run}#${r.idx}`, `VIOLATION ${first!.invariant}: ${roundNumbers(first!.message)} — ${formatTime(r.t)} ms ${describe(r)}`]);
        } else {
          items.push([rowFor(r.t, lane), lane, r.receivedHash !== r.hash ? 'bad' : 'app', `${r.type} ${r.run}#${r.idx}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        }
        break;
      case 'app_error':
        items.push([rowFor(r.t, lane), lane, r.dead ? 'bad' : 'warn', `${r.dead ? '☠ dead letter' : '⚠ app error'} ${r.run}#${r.idx}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      case 'resync':
        items.push([rowFor(r.t, lane), lane, 'warn', `resync ${r.thread} ${r.from}→${r.to}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      case 'reject':
        items.push([rowFor(r.t, lane), lane, 'bad', `rejected ${r.code}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      case 'link':
        items.push([rowFor(r.t, lane), lane, r.event === 'open' ? 'open' : 'close', r.event === 'open' ? `#${r.link.slice(r.link.lastIndexOf('#') + 1)} link open` : `#${r.link.slice(r.link.lastIndexOf('#') + 1)} closed ${r.code ?? ''} ${r.reason ?? ''}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      default:
        items.push([rowFor(r.t, lane), lane, 'note', describe(r), `${formatTime(r.t)} ms ${describe(r)}`]);
    }
  }
  if (first && violationRow === null && (to === records.length || drawn.length === 0)) violationRow = bandRow(first.t);

  // ---- texts
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.k, (counts.get(r.k) ?? 0) + 1);
  const gauges = records.filter((r): r is RecordOf<'gauge'> => r.k === 'gauge').map((g) => `${g.name} (${g.owner}) = ${g.value}${g.cap !== undefined ? ` / cap ${g.cap}` : ''}`);
  const violations = opts.violations ?? [];
  const verdict = violations.length === 0 ? (opts.violations ? 'no violations' : 'not judged') : `${violations.length} violation(s): ${[...new Set(violations.map((v) => v.invariant))].join(', ')}`;
  return {
    title: opts.title ?? (run ? `wsim — ${runHeader(run, opts.seed).replace(/ {2}/g, ' ')}` : 'wsim timeline'),
    header: [
      `${run ? runHeader(run, opts.seed) : 'no run record'} · ${verdict}`,
      ...(run ? [`fault plan: ${faultPlanLine(run.faultPlan)}`] : []),
      `${records.length} records: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    ],
    gauges,
    note: drawn.length < records.length ? `Drawing records ${from + 1}–${to} of ${records.length}${from > 0 ? ' (a window around the first violation)' : ''}. The text timeline (wsim replay) has them all.` : null,
    lanes,
    rows,
    items,
    arrows,
    bands,
    violation: first ? { row: violationRow ?? -1, lines: explainViolation(first, records), item: offendingItem } : null,
  };
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * JSON that is safe inside <script>: no '<' (so no '</script' or '<!--'), no
 * '/' (so no 'http://' either), no U+2028/2029. JSON.parse reads it back as is.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\//g, '\\/')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function renderHtml(records: readonly TraceRecord[], opts: HtmlOptions = {}): string {
  const data = buildHtmlData(records, opts);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header id="panel">
  <div class="top">
    <h1 id="title"></h1>
    <div class="tools">
      <button id="zout" title="zoom out">−</button><span id="zlevel">100%</span><button id="zin" title="zoom in">+</button>
      <button id="zfit" title="fit the lanes to the window width">fit</button><button id="z1">1:1</button>
      <span class="hint">ctrl + wheel to zoom</span>
    </div>
  </div>
  <div id="meta"></div>
  <div id="violation" hidden></div>
  <div id="legend"></div>
</header>
<main id="scroll"><div id="lanes"></div><div id="chart"></div></main>
<div id="tip" hidden></div>
<aside id="side" hidden><button id="sideclose" title="close">×</button><div id="sidebody"></div></aside>
<script type="application/json" id="wsim-data">${scriptJson(data)}</script>
<script>${JS}</script>
</body>
</html>
`;
}

const CSS = `
:root { --producer:#2563eb; --hub:#7c3aed; --network:#64748b; --session:#c2410c; --client:#0e7490; --app:#15803d; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { display: flex; flex-direction: column; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #0f172a; background: #f8fafc; }
#panel { padding: 8px 14px; background: #fff; border-bottom: 1px solid #cbd5e1; flex: none; }
#panel .top { display: flex; align-items: center; gap: 16px; flex-wrap: wrap; }
h1 { font-size: 16px; margin: 0; }
.tools button { font: inherit; min-width: 30px; padding: 2px 8px; margin: 0 2px; border: 1px solid #94a3b8; border-radius: 4px; background: #f1f5f9; cursor: pointer; }
.tools button:hover { background: #e2e8f0; }
.tools #zlevel { display: inline-block; min-width: 44px; text-align: center; }
.hint { color: #64748b; font-size: 12px; margin-left: 6px; }
#meta { color: #334155; font-size: 12px; margin-top: 4px; }
#meta > div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#meta .note { color: #92400e; }
#meta details { font-size: 11px; color: #475569; }
#meta summary { cursor: pointer; }
#violation { margin-top: 6px; padding: 6px 10px; border: 2px solid #dc2626; border-radius: 6px; background: #fef2f2; color: #7f1d1d; font-size: 12px; }
#violation b { color: #b91c1c; }
#violation button { float: right; font: inherit; border: 1px solid #dc2626; background: #fff; color: #b91c1c; border-radius: 4px; cursor: pointer; }
#legend { margin-top: 4px; font-size: 11px; color: #475569; display: flex; gap: 14px; flex-wrap: wrap; }
#legend i { display: inline-block; width: 18px; height: 3px; vertical-align: middle; margin-right: 4px; }
#scroll { flex: 1; overflow: auto; position: relative; background: #fff; }
#lanes { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid #cbd5e1; width: max-content; }
#chart { width: max-content; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
#svg .it, #svg .ar { cursor: pointer; }
#svg .it:hover rect { stroke-width: 2; }
#svg .sel rect { stroke-width: 3; filter: drop-shadow(0 0 3px rgba(15,23,42,.55)); }
#violation a { color: #b91c1c; font-weight: 600; cursor: pointer; text-decoration: underline; }
#tip { position: fixed; z-index: 10; max-width: 560px; padding: 6px 9px; background: #0f172a; color: #f8fafc; font-size: 12px; border-radius: 6px; pointer-events: none; box-shadow: 0 4px 14px rgba(0,0,0,.25); white-space: pre-wrap; word-break: break-word; }
#tip b { color: #fde68a; font-weight: 600; }
#side { position: fixed; z-index: 9; top: 0; right: 0; bottom: 0; width: 380px; padding: 14px 16px; background: #fff; border-left: 2px solid #94a3b8; box-shadow: -6px 0 18px rgba(0,0,0,.12); overflow: auto; font-size: 12.5px; }
#side.bad { border-left-color: #dc2626; }
#side h2 { font-size: 14px; margin: 0 24px 8px 0; word-break: break-word; }
#side.bad h2 { color: #b91c1c; }
#side dl { margin: 0; }
#side dt { color: #64748b; font-size: 11px; margin-top: 8px; text-transform: uppercase; letter-spacing: .04em; }
#side dd { margin: 2px 0 0; white-space: pre-wrap; word-break: break-word; }
#sideclose { position: absolute; top: 8px; right: 10px; font: 18px/1 system-ui, sans-serif; border: 0; background: none; cursor: pointer; color: #475569; }
`;

/** The drawing code (plain ES2017, runs in the page). */
const JS = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('wsim-data').textContent);
  var LANE_W = 168, GUTTER = 64, ROW_H = 20, HEAD_H = 46, PAD = 24;
  var COLORS = { producer: '#2563eb', hub: '#7c3aed', network: '#64748b', session: '#c2410c', client: '#0e7490', app: '#15803d' };
  var PILL = {
    st: ['#f1f5f9', '#475569', '#1e293b'], 'st end': ['#e2e8f0', '#334155', '#0f172a'],
    prd: ['#dbeafe', '#2563eb', '#1e3a8a'], app: ['#dcfce7', '#16a34a', '#14532d'], bad: ['#fee2e2', '#dc2626', '#7f1d1d'],
    warn: ['#fef3c7', '#d97706', '#78350f'], open: ['#ecfdf5', '#059669', '#064e3b'], close: ['#f1f5f9', '#64748b', '#334155'],
    dlv: ['#ffffff', '#94a3b8', '#334155'], drop: ['#fee2e2', '#dc2626', '#7f1d1d'], dup: ['#ffedd5', '#ea580c', '#7c2d12'],
    reorder: ['#fff7ed', '#fb923c', '#7c2d12'], note: ['#f8fafc', '#94a3b8', '#334155'], delay: ['#e0f2fe', '#0284c7', '#0c4a6e']
  };
  var nLanes = data.lanes.length, nRows = Math.max(1, data.rows.length);
  var W = GUTTER + nLanes * LANE_W + PAD, H = nRows * ROW_H + PAD * 2;
  var zoom = 1;

  function esc(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'); }
  function laneX(l) { return GUTTER + l * LANE_W + LANE_W / 2; }
  function rowY(r) { return PAD + r * ROW_H + ROW_H / 2; }
  function fit(s, px) { var n = Math.floor(px / 6.1); return s.length > n ? s.slice(0, Math.max(1, n - 1)) + '…' : s; }
  function fmt(t) { return t % 1 === 0 ? String(t) : t.toFixed(1); }

  // ---- panel
  document.getElementById('title').textContent = data.title;
  var meta = document.getElementById('meta');
  data.header.forEach(function (line) { var d = document.createElement('div'); d.textContent = line; d.title = line; meta.appendChild(d); });
  if (data.gauges.length) {
    var det = document.createElement('details'), sum = document.createElement('summary');
    sum.textContent = 'gauges (' + data.gauges.length + ')';
    det.appendChild(sum);
    data.gauges.forEach(function (g) { var d = document.createElement('div'); d.textContent = g; det.appendChild(d); });
    meta.appendChild(det);
  }
  if (data.note) { var n = document.createElement('div'); n.className = 'note'; n.textContent = data.note; meta.appendChild(n); }
  var legend = document.getElementById('legend');
  legend.innerHTML = [
    ['#0e7490', 'client → server frame'], ['#334155', 'server → client frame'], ['#ea580c', 'duplicate'],
    ['#dc2626', 'dropped ✗'], ['#7c3aed', 'hub routes to a session'], ['#0284c7', 'network delay (+N ms late)'], ['#f59e0b', 'fault'], ['#16a34a', 'app received / heal'], ['#dc2626', 'violation'], ['#94a3b8', 'hover: full text · click: details']
  ].map(function (e) { return '<span><i style="background:' + e[0] + '"></i>' + esc(e[1]) + '</span>'; }).join('');
  if (data.violation) {
    var box = document.getElementById('violation');
    box.hidden = false;
    var lines = data.violation.lines;
    box.innerHTML = (data.violation.row >= 0 ? '<button id="jump">jump to it ↓</button>' : '') +
      '<b>First violation — ' + esc(lines[0]) + '</b>' + lines.slice(1).map(function (l) { return '<div>' + esc(l) + '</div>'; }).join('') +
      (data.violation.item !== null ? '<div><a id="offending">the offending delivery, in red ↓</a></div>' : '');
  }

  // ---- lane header (sticky)
  var head = [];
  var groups = {};
  data.lanes.forEach(function (lane, i) {
    if (lane.group) { (groups[lane.group] = groups[lane.group] || []).push(i); }
  });
  Object.keys(groups).forEach(function (g, k) {
    var ls = groups[g], x0 = GUTTER + ls[0] * LANE_W + 3, x1 = GUTTER + (ls[ls.length - 1] + 1) * LANE_W - 3;
    head.push('<rect x="' + x0 + '" y="2" width="' + (x1 - x0) + '" height="14" rx="3" fill="' + (k % 2 ? '#f1f5f9' : '#e2e8f0') + '"/>');
    head.push('<text x="' + ((x0 + x1) / 2) + '" y="13" font-size="11" font-weight="600" text-anchor="middle" fill="#334155">' + esc(g) + '</text>');
  });
  data.lanes.forEach(function (lane, i) {
    var x = GUTTER + i * LANE_W + 4, c = COLORS[lane.kind];
    head.push('<rect x="' + x + '" y="19" width="' + (LANE_W - 8) + '" height="24" rx="5" fill="#fff" stroke="' + c + '" stroke-width="1.5"/>');
    head.push('<text x="' + (x + (LANE_W - 8) / 2) + '" y="35" font-size="12" font-weight="600" text-anchor="middle" fill="' + c + '"><title>' + esc(lane.label) + '</title>' + esc(fit(lane.label, LANE_W - 16)) + '</text>');
  });
  head.push('<text x="6" y="35" font-size="11" fill="#64748b">t (ms)</text>');

  // ---- body
  var out = [];
  out.push('<defs>' +
    '<marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>' +
    '<marker id="ahc" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#0e7490"/></marker>' +
    '<marker id="ahs" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#334155"/></marker>' +
    '<marker id="ahd" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#ea580c"/></marker>' +
    '<marker id="ahr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7c3aed"/></marker>' +
    '</defs>');
  // alternate endpoint groups get a faint background, then lifelines
  Object.keys(groups).forEach(function (g, k) {
    if (k % 2) return;
    var ls = groups[g];
    out.push('<rect x="' + (GUTTER + ls[0] * LANE_W) + '" y="0" width="' + (ls.length * LANE_W) + '" height="' + H + '" fill="#f8fafc"/>');
  });
  // time gutter: a label whenever time moves, with a faint rule every so often
  var lastT = null, lastLabelRow = -10;
  data.rows.forEach(function (t, r) {
    if (t !== lastT && r - lastLabelRow >= 1) {
      out.push('<text x="' + (GUTTER - 8) + '" y="' + (rowY(r) + 4) + '" font-size="10.5" text-anchor="end" fill="#64748b">' + fmt(t) + '</text>');
      out.push('<line x1="' + (GUTTER - 4) + '" x2="' + (W - PAD) + '" y1="' + (rowY(r) - ROW_H / 2) + '" y2="' + (rowY(r) - ROW_H / 2) + '" stroke="#f1f5f9"/>');
      lastLabelRow = r;
    }
    lastT = t;
  });
  data.lanes.forEach(function (lane, i) {
    out.push('<line x1="' + laneX(i) + '" x2="' + laneX(i) + '" y1="0" y2="' + H + '" stroke="' + COLORS[lane.kind] + '" stroke-opacity="0.35" stroke-width="1.5" stroke-dasharray="5 4"/>');
  });
  // bands: faults, heal, end
  data.bands.forEach(function (b) {
    var y = rowY(b.row) - ROW_H / 2;
    var fill = b.cls === 'fault' ? '#fde68a' : b.cls === 'heal' ? '#bbf7d0' : '#e2e8f0';
    out.push('<rect x="' + GUTTER + '" y="' + y + '" width="' + (W - GUTTER - PAD) + '" height="' + ROW_H + '" fill="' + fill + '" fill-opacity="0.75"><title>' + esc(b.label) + '</title></rect>');
    out.push('<text x="' + (GUTTER + 6) + '" y="' + (y + 14) + '" font-size="11" font-weight="600" fill="' + (b.cls === 'fault' ? '#92400e' : b.cls === 'heal' ? '#166534' : '#334155') + '">' + esc(b.label) + '</text>');
  });
  // the first violation
  if (data.violation && data.violation.row >= 0) {
    var vy = rowY(data.violation.row) - ROW_H / 2;
    out.push('<rect id="vband" x="' + GUTTER + '" y="' + (vy - 2) + '" width="' + (W - GUTTER - PAD) + '" height="' + (ROW_H + 4) + '" fill="#fecaca" stroke="#dc2626" stroke-width="2"><title>' + esc(data.violation.lines.join('\n')) + '</title></rect>');
    out.push('<text x="' + (GUTTER + 6) + '" y="' + (vy + 14) + '" font-size="12" font-weight="700" fill="#b91c1c">⚠ VIOLATION ' + esc(data.violation.lines[0]) + '</text>');
  }
  // arrows
  data.arrows.forEach(function (a, ai) {
    var x0 = laneX(a.l0), y0 = rowY(a.r0), x1 = laneX(a.l1), y1 = rowY(a.r1);
    if (a.route) {
      // the hub routing an event to a session: thin, purple, from its production to the session's send
      out.push('<g class="ar" data-a="' + ai + '"><line x1="' + x0 + '" y1="' + y0 + '" x2="' + (x1 - 5) + '" y2="' + y1 + '" stroke="#7c3aed" stroke-opacity="0.7" stroke-width="1.1" stroke-dasharray="4 2" marker-end="url(#ahr)"/></g>');
      return;
    }
    var color = a.dup ? '#ea580c' : a.fate === 1 || a.fate === 2 ? '#dc2626' : a.c2s ? '#0e7490' : '#334155';
    var marker = a.dup ? 'ahd' : a.c2s ? 'ahc' : 'ahs';
    var dash = a.fate === 3 ? ' stroke-dasharray="3 3"' : a.dup ? ' stroke-dasharray="6 2"' : '';
    if (a.fate === 1) { x1 = (x0 + x1) / 2; y1 = y0 + 6; }
    var shorten = (a.fate === 0 && x1 !== x0) ? (x1 > x0 ? -4 : 4) : 0;
    out.push('<g class="ar" data-a="' + ai + '">');
    out.push('<line x1="' + x0 + '" y1="' + y0 + '" x2="' + (x1 + shorten) + '" y2="' + y1 + '" stroke="' + color + '" stroke-width="' + (a.label.indexOf('event') === 0 || a.label.indexOf('batch') === 0 ? 1.8 : 1.2) + '"' + dash + (a.fate === 0 ? ' marker-end="url(#' + marker + ')"' : '') + '/>');
    if (a.fate === 1 || a.fate === 2) {
      out.push('<text x="' + x1 + '" y="' + (y1 + 5) + '" font-size="14" font-weight="700" text-anchor="middle" fill="#dc2626">✗</text>');
    }
    if (a.label) {
      var lx = x0 + (a.l1 > a.l0 ? 8 : -8), anchor = a.l1 > a.l0 ? 'start' : 'end';
      out.push('<text x="' + lx + '" y="' + (y0 - 3) + '" font-size="10" text-anchor="' + anchor + '" fill="' + color + '" stroke="#fff" stroke-width="3" paint-order="stroke">' + esc(fit(a.label, Math.abs(laneX(a.l1) - laneX(a.l0)) - 14)) + '</text>');
    }
    out.push('</g>');
  });
  // items: pills on the lifelines
  data.items.forEach(function (it, ii) {
    var r = it[0], l = it[1], cls = it[2], label = fit(it[3], LANE_W - 14);
    var p = PILL[cls] || PILL.note;
    var w = Math.min(LANE_W - 8, label.length * 6.1 + 12), x = laneX(l) - w / 2, y = rowY(r) - 8;
    out.push('<g class="it" data-i="' + ii + '"><rect x="' + x + '" y="' + y + '" width="' + w + '" height="16" rx="8" fill="' + p[0] + '" stroke="' + p[1] + '"/>' +
      '<text x="' + laneX(l) + '" y="' + (y + 12) + '" font-size="10.5" text-anchor="middle" fill="' + p[2] + '">' + esc(label) + '</text></g>');
  });

  var lanesEl = document.getElementById('lanes'), chartEl = document.getElementById('chart'), scroller = document.getElementById('scroll');
  lanesEl.innerHTML = '<svg id="head" viewBox="0 0 ' + W + ' ' + HEAD_H + '" width="' + W + '" height="' + HEAD_H + '">' + head.join('') + '</svg>';
  chartEl.innerHTML = '<svg id="svg" viewBox="0 0 ' + W + ' ' + H + '" width="' + W + '" height="' + H + '">' + out.join('') + '</svg>';
  var headSvg = document.getElementById('head'), svg = document.getElementById('svg');

  // ---- every pill and arrow: its whole text on hover, its details in the side panel on click
  var tipEl = document.getElementById('tip'), side = document.getElementById('side'), sideBody = document.getElementById('sidebody');
  function target(e) {
    var g = e.target && e.target.closest ? e.target.closest('[data-i],[data-a]') : null;
    if (!g) return null;
    if (g.hasAttribute('data-i')) { var it = data.items[+g.getAttribute('data-i')]; return { el: g, row: it[0], lane: it[1], bad: it[2] === 'bad' || it[2] === 'drop', title: it[3], text: it[4], item: +g.getAttribute('data-i') }; }
    var a = data.arrows[+g.getAttribute('data-a')];
    return { el: g, row: a.r0, lane: a.l0, bad: a.fate === 1 || a.fate === 2, title: a.route ? 'routing' : a.label, text: a.tip, item: null };
  }
  function showTip(t, x, y) {
    tipEl.innerHTML = '<b>' + esc(data.lanes[t.lane].label) + ' · ' + fmt(data.rows[t.row]) + ' ms</b>\n' + esc(t.title) + (t.text && t.text !== t.title ? '\n' + esc(t.text) : '');
    tipEl.hidden = false;
    var w = tipEl.offsetWidth, h = tipEl.offsetHeight;
    tipEl.style.left = Math.max(4, Math.min(window.innerWidth - w - 8, x + 14)) + 'px';
    tipEl.style.top = Math.max(4, y + h + 24 > window.innerHeight ? y - h - 10 : y + 16) + 'px';
  }
  var selected = null;
  function select(t) {
    if (selected) selected.classList.remove('sel');
    selected = t.el; selected.classList.add('sel');
    var isOffending = data.violation && t.item !== null && t.item === data.violation.item;
    var rows = [['time', fmt(data.rows[t.row]) + ' ms (simulated)'], ['lane', data.lanes[t.lane].label], ['what', t.text || t.title]];
    if (isOffending) rows.push(['violation', data.violation.lines.join('\n')]);
    side.className = t.bad || isOffending ? 'bad' : '';
    sideBody.innerHTML = '<h2>' + esc(t.title) + '</h2><dl>' + rows.map(function (r) { return '<dt>' + esc(r[0]) + '</dt><dd>' + esc(r[1]) + '</dd>'; }).join('') + '</dl>';
    side.hidden = false;
  }
  function selectItem(i) {
    var g = svg.querySelector('[data-i="' + i + '"]');
    if (!g) return;
    select(target({ target: g }));
    // into view: its row, and its lane left of the side panel
    scroller.scrollTop = Math.max(0, (rowY(data.items[i][0]) - 160) * zoom);
    scroller.scrollLeft = Math.max(0, laneX(data.items[i][1]) * zoom - Math.max(120, (scroller.clientWidth - side.offsetWidth) / 2));
  }
  svg.addEventListener('mousemove', function (e) { var t = target(e); if (t) showTip(t, e.clientX, e.clientY); else tipEl.hidden = true; });
  svg.addEventListener('mouseleave', function () { tipEl.hidden = true; });
  svg.addEventListener('click', function (e) { var t = target(e); if (t) select(t); });
  document.getElementById('sideclose').onclick = function () { side.hidden = true; if (selected) selected.classList.remove('sel'); selected = null; };
  var offendingLink = document.getElementById('offending');
  if (offendingLink) offendingLink.onclick = function () { selectItem(data.violation.item); };

  // ---- zoom: buttons and ctrl + wheel, keeping the point under the cursor in place
  function setZoom(z, cx, cy) {
    z = Math.max(0.1, Math.min(4, z));
    var rect = scroller.getBoundingClientRect();
    cx = cx === undefined ? rect.width / 2 : cx; cy = cy === undefined ? rect.height / 2 : cy;
    var ux = (scroller.scrollLeft + cx) / zoom, uy = (scroller.scrollTop + cy) / zoom;
    zoom = z;
    svg.setAttribute('width', W * z); svg.setAttribute('height', H * z);
    headSvg.setAttribute('width', W * z); headSvg.setAttribute('height', HEAD_H * Math.max(z, 0.6));
    scroller.scrollLeft = ux * z - cx; scroller.scrollTop = uy * z - cy;
    document.getElementById('zlevel').textContent = Math.round(z * 100) + '%';
  }
  document.getElementById('zin').onclick = function () { setZoom(zoom * 1.25); };
  document.getElementById('zout').onclick = function () { setZoom(zoom / 1.25); };
  document.getElementById('z1').onclick = function () { setZoom(1); };
  document.getElementById('zfit').onclick = function () { setZoom(scroller.clientWidth / W, 0, 0); };
  scroller.addEventListener('wheel', function (e) {
    if (!e.ctrlKey) return;
    e.preventDefault();
    var rect = scroller.getBoundingClientRect();
    setZoom(zoom * Math.exp(-e.deltaY * 0.002), e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  var jump = document.getElementById('jump');
  function toViolation() { scroller.scrollTop = Math.max(0, (rowY(data.violation.row) - 160) * zoom); }
  if (jump) jump.onclick = toViolation;
  if (scroller.clientWidth < W) setZoom(Math.max(0.8, scroller.clientWidth / W), 0, 0);
  if (jump && location.hash === '#violation') toViolation();
  // deep links: #item=N opens item N's details (#violation-item: the offending delivery's)
  var deep = /^#item=(\d+)$/.exec(location.hash);
  if (deep) selectItem(+deep[1]);
  if (location.hash === '#violation-item' && data.violation && data.violation.item !== null) selectItem(data.violation.item);
  document.body.setAttribute('data-drawn', String(data.items.length + data.arrows.length));
})();
`;
