/**
 * Every protocol machine as Stately-importable JSON and as a Mermaid
 * `stateDiagram-v2`.
 *
 * The JSON is a plain machine config (`{ id, initial, states: { ... on /
 * after / always ... } }`) built by walking `machine.root`: no functions (an
 * inline action or guard becomes its name, e.g. `xstate.raise`), targets as
 * sibling keys, `.child` or `#id`. That is what Stately's editor imports and
 * what `createMachine` accepts back (the spec does exactly that).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnyStateMachine } from 'xstate';
import { agentRunMachine } from '../machines/agent-run.ts';
import { clientConnectionMachine } from '../machines/client-connection.ts';
import { hubMachine } from '../machines/hub.ts';
import { serverSessionMachine } from '../machines/server-session.ts';

export const MACHINES: { name: string; machine: AnyStateMachine }[] = [
  { name: 'client-connection', machine: clientConnectionMachine },
  { name: 'server-session', machine: serverSessionMachine },
  { name: 'hub', machine: hubMachine },
  { name: 'agent-run', machine: agentRunMachine },
];

/** The parts of XState's StateNode this module reads. */
interface Node {
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  parent?: Node;
  states: Record<string, Node>;
  config: { initial?: unknown; entry?: unknown; exit?: unknown; tags?: unknown; description?: string };
  transitions: Map<string, Transition[]>;
  after: (Transition & { delay: string | number })[];
  always?: Transition[];
}

interface Transition {
  eventType: string;
  target?: readonly Node[];
  guard?: unknown;
  actions: readonly unknown[];
  reenter: boolean;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

// ---------------------------------------------------------------- names

/** An action or guard as data: its name (and params when they are plain data). */
function named(x: unknown): JsonValue | null {
  if (typeof x === 'string') return x;
  if (typeof x === 'function') {
    const fn = x as { type?: unknown; event?: { type?: unknown }; name?: string };
    if (fn.type === 'xstate.raise' && typeof fn.event?.type === 'string') return `xstate.raise(${fn.event.type})`;
    if (typeof fn.type === 'string') return fn.type;
    return fn.name ? `inline:${fn.name}` : 'inline';
  }
  if (typeof x === 'object' && x !== null && 'type' in x) {
    const o = x as { type: unknown; params?: unknown };
    const type = typeof o.type === 'string' ? o.type : 'inline';
    const params = plain(o.params);
    return params === undefined ? type : { type, params };
  }
  return null;
}

/** JSON data, or undefined when it holds a function. */
function plain(x: unknown): JsonValue | undefined {
  if (x === undefined || typeof x === 'function') return undefined;
  if (x === null || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') return x;
  if (Array.isArray(x)) {
    const out = x.map(plain);
    return out.every((v) => v !== undefined) ? (out as JsonValue[]) : undefined;
  }
  if (typeof x === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(x)) {
      if (v === undefined) continue;
      const p = plain(v);
      if (p === undefined) return undefined;
      out[k] = p;
    }
    return out;
  }
  return undefined;
}

const guardName = (g: unknown): string | undefined => {
  const n = named(g);
  if (n === null) return undefined;
  return typeof n === 'string' ? n : String((n as JsonObject).type);
};

const actionList = (xs: unknown): JsonValue[] => {
  const list = xs === undefined ? [] : Array.isArray(xs) ? xs : [xs];
  return list.map(named).filter((a): a is JsonValue => a !== null);
};

// ---------------------------------------------------------------- JSON

const isAncestor = (a: Node, b: Node): boolean => {
  for (let n = b.parent; n; n = n.parent) if (n === a) return true;
  return false;
};

/** A target as the source node would write it: sibling key, '.child' path, or '#id'. */
function targetRef(source: Node, target: Node): string {
  if (target.parent && target.parent === source.parent) return target.key;
  if (isAncestor(source, target)) {
    const path: string[] = [];
    for (let n: Node | undefined = target; n && n !== source; n = n.parent) path.unshift(n.key);
    return `.${path.join('.')}`;
  }
  return `#${target.id}`;
}

function transitionJson(source: Node, t: Transition): JsonObject {
  const out: JsonObject = {};
  if (t.target && t.target.length > 0) {
    const refs = t.target.map((n) => targetRef(source, n));
    out.target = refs.length === 1 ? refs[0]! : refs;
  }
  const guard = named(t.guard);
  if (t.guard !== undefined && guard !== null) out.guard = guard;
  const actions = actionList(t.actions);
  if (actions.length > 0) out.actions = actions;
  if (t.reenter) out.reenter = true;
  return out;
}

const one = (list: JsonObject[]): JsonValue => (list.length === 1 ? list[0]! : list);

function nodeJson(node: Node, isRoot: boolean): JsonObject {
  const out: JsonObject = {};
  if (isRoot) out.id = node.id;
  if (node.type === 'parallel' || node.type === 'final') out.type = node.type;
  if (typeof node.config.initial === 'string') out.initial = node.config.initial;
  if (node.config.description) out.description = node.config.description;
  const tags = plain(node.config.tags);
  if (tags !== undefined) out.tags = tags;
  const entry = actionList(node.config.entry);
  if (entry.length > 0) out.entry = entry;
  const exit = actionList(node.config.exit);
  if (exit.length > 0) out.exit = exit;

  const on: JsonObject = {};
  for (const [event, list] of node.transitions) {
    if (event.startsWith('xstate.after.')) continue; // listed under `after`
    on[event] = one(list.map((t) => transitionJson(node, t)));
  }
  if (Object.keys(on).length > 0) out.on = on;

  const after: Record<string, JsonObject[]> = {};
  for (const t of node.after) (after[String(t.delay)] ??= []).push(transitionJson(node, t));
  if (Object.keys(after).length > 0) out.after = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, one(v)]));

  if (node.always && node.always.length > 0) out.always = one(node.always.map((t) => transitionJson(node, t)));

  const children = Object.values(node.states);
  if (children.length > 0) out.states = Object.fromEntries(children.map((c) => [c.key, nodeJson(c, false)]));
  return out;
}

/** The machine as a plain config object (JSON data only). */
export function machineConfig(machine: AnyStateMachine): JsonObject {
  return nodeJson(machine.root as unknown as Node, true);
}

// ---------------------------------------------------------------- Mermaid

function allNodes(root: Node): Node[] {
  const out: Node[] = [];
  const walk = (n: Node) => {
    for (const c of Object.values(n.states)) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** Mermaid ids are global: a state's key when unique, else its path joined by '_'. */
function mermaidIds(root: Node): Map<Node, string> {
  const nodes = allNodes(root);
  const count = new Map<string, number>();
  for (const n of nodes) count.set(n.key, (count.get(n.key) ?? 0) + 1);
  const ids = new Map<Node, string>();
  for (const n of nodes) {
    const path = n.id.split('.').slice(1).join('_');
    ids.set(n, (count.get(n.key) === 1 ? n.key : path).replace(/[^A-Za-z0-9_]/g, '_'));
  }
  return ids;
}

function label(event: string, t: Transition, delay?: string | number): string {
  const what = delay !== undefined ? `after(${delay})` : event === '' ? 'always' : event;
  const guard = guardName(t.guard);
  // ':' and ';' would end a Mermaid label early
  return `${what}${t.guard !== undefined && guard ? ` [${guard}]` : ''}`.replace(/[;:]/g, ' ');
}

/** The Mermaid state diagram: composite states, `--` between parallel regions, guards and delays in labels. */
export function machineMermaid(machine: AnyStateMachine): string {
  const root = machine.root as unknown as Node;
  const ids = mermaidIds(root);
  // edges, each written in the block of the lowest node containing both ends
  const edges = new Map<Node, Map<string, string[]>>();
  const scopeOf = (a: Node, b: Node): Node => {
    for (let n: Node | undefined = a.parent; n; n = n.parent) if (n === b || isAncestor(n, b)) return n;
    return root;
  };
  const addEdge = (from: Node, to: Node, text: string) => {
    const scope = from === to ? from.parent ?? root : scopeOf(from, to);
    const byPair = edges.get(scope) ?? new Map<string, string[]>();
    if (!edges.has(scope)) edges.set(scope, byPair);
    const key = `${ids.get(from)} --> ${ids.get(to)}`;
    const labels = byPair.get(key) ?? [];
    if (!byPair.has(key)) byPair.set(key, labels);
    if (!labels.includes(text)) labels.push(text);
  };
  /** Sources to draw from: a transition of the root applies in every top state; one of a compound state onto its own child applies in its other children. */
  const sourcesFor = (source: Node, target: Node): Node[] => {
    if (source === root || isAncestor(source, target)) {
      return Object.values(source.states).filter((c) => c !== target && !isAncestor(c, target) && c.type !== 'final');
    }
    return [source];
  };
  const collect = (node: Node) => {
    const visit = (event: string, t: Transition, delay?: string | number) => {
      for (const target of t.target ?? []) {
        if (target === node && !t.reenter) continue;
        for (const from of sourcesFor(node, target)) addEdge(from, target, label(event, t, delay));
      }
    };
    for (const [event, list] of node.transitions) if (!event.startsWith('xstate.after.')) for (const t of list) visit(event, t);
    for (const t of node.after) visit(t.eventType, t, t.delay);
    for (const t of node.always ?? []) visit('', t);
    for (const c of Object.values(node.states)) collect(c);
  };
  collect(root);

  const lines: string[] = ['stateDiagram-v2'];
  const write = (node: Node, indent: string) => {
    const children = Object.values(node.states);
    if (node.type === 'parallel') {
      children.forEach((c, i) => {
        if (i > 0) lines.push(`${indent}--`);
        block(c, indent);
      });
    } else {
      if (typeof node.config.initial === 'string' && node.states[node.config.initial]) lines.push(`${indent}[*] --> ${ids.get(node.states[node.config.initial]!)}`);
      for (const c of children) block(c, indent);
      for (const c of children) if (c.type === 'final') lines.push(`${indent}${ids.get(c)} --> [*]`);
    }
    for (const [pair, labels] of edges.get(node) ?? []) lines.push(`${indent}${pair} : ${labels.join(', ')}`);
  };
  const block = (node: Node, indent: string) => {
    const id = ids.get(node)!;
    if (id !== node.key) lines.push(`${indent}state "${node.key}" as ${id}`);
    if (Object.keys(node.states).length === 0) {
      if (id === node.key) lines.push(`${indent}${id}`);
      return;
    }
    lines.push(`${indent}state ${id} {`);
    write(node, `${indent}  `);
    lines.push(`${indent}}`);
  };
  write(root, '  ');
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- files

export function machineDiagrams(): { name: string; json: string; mermaid: string }[] {
  return MACHINES.map(({ name, machine }) => ({
    name,
    json: `${JSON.stringify(machineConfig(machine), null, 2)}\n`,
    mermaid: machineMermaid(machine),
  }));
}

/** Write `DIR/<machine>.json` and `DIR/<machine>.mmd`, each atomically (temp file, then rename). */
export async function writeDiagrams(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const d of machineDiagrams()) {
    for (const [ext, text] of [['json', d.json], ['mmd', d.mermaid]] as const) {
      const path = join(dir, `${d.name}.${ext}`);
      const temp = join(dir, `.${d.name}.${ext}.${process.pid}.tmp`);
      await writeFile(temp, text);
      await rename(temp, path);
      written.push(path);
    }
  }
  return written;
}
