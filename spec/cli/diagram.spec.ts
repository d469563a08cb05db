import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createMachine, type AnyStateMachine } from 'xstate';
import { machineConfig, machineDiagrams, MACHINES, writeDiagrams } from '../../cli/diagram.ts';

/** Every state node of a machine: [key, id]. */
function states(machine: AnyStateMachine): { key: string; id: string; type: string }[] {
  const out: { key: string; id: string; type: string }[] = [];
  const walk = (node: { states: Record<string, unknown> }) => {
    for (const child of Object.values(node.states) as { key: string; id: string; type: string; states: Record<string, unknown> }[]) {
      out.push({ key: child.key, id: child.id, type: child.type });
      walk(child);
    }
  };
  walk(machine.root as unknown as { states: Record<string, unknown> });
  return out;
}

/** Transitions as comparable strings: source id, event, targets, guard name. */
function edges(machine: AnyStateMachine): string[] {
  const out: string[] = [];
  const walk = (node: { id: string; states: Record<string, unknown>; transitions: Map<string, { target?: { id: string }[]; guard?: unknown }[]>; always?: { target?: { id: string }[]; guard?: unknown }[] }) => {
    for (const [event, list] of node.transitions) {
      for (const t of list) {
        const guard = typeof t.guard === 'string' ? t.guard : t.guard === undefined ? '' : 'inline';
        out.push(`${node.id} ${event.replace(/^xstate\.after\.([^.]+)\..*$/, 'after:$1')} → ${(t.target ?? []).map((n) => n.id).join(',')} [${guard}]`);
      }
    }
    for (const t of node.always ?? []) out.push(`${node.id} always → ${(t.target ?? []).map((n) => n.id).join(',')} [${String(t.guard ?? '')}]`);
    for (const child of Object.values(node.states)) walk(child as Parameters<typeof walk>[0]);
  };
  walk(machine.root as unknown as Parameters<typeof walk>[0]);
  return out.sort();
}

const hasFunction = (value: unknown): boolean =>
  typeof value === 'function' || (typeof value === 'object' && value !== null && Object.values(value).some(hasFunction));

describe('cli/diagram', () => {
  const diagrams = machineDiagrams();

  it('covers the four protocol machines', () => {
    expect(diagrams.map((d) => d.name)).to.deep.equal(['client-connection', 'server-session', 'hub', 'agent-run']);
  });

  for (const { name, machine } of MACHINES) {
    describe(name, () => {
      const diagram = () => diagrams.find((d) => d.name === name)!;

      it('JSON: valid, no functions, every state, and createMachine rebuilds the same states and transitions', () => {
        const config = JSON.parse(diagram().json) as Record<string, unknown>;
        expect(hasFunction(config)).to.equal(false);
        expect(config).to.deep.equal(machineConfig(machine));
        expect(config.id).to.equal(machine.id);
        const rebuilt = createMachine(config as Parameters<typeof createMachine>[0]);
        expect(states(rebuilt)).to.deep.equal(states(machine));
        expect(edges(rebuilt)).to.deep.equal(edges(machine));
        for (const s of states(machine)) expect(diagram().json).to.contain(`"${s.key}": {`);
      });

      it('Mermaid: stateDiagram-v2 with every state, initial and final states, composite and parallel states', () => {
        const mmd = diagram().mermaid;
        expect(mmd.startsWith('stateDiagram-v2\n')).to.equal(true);
        const lines = mmd.split('\n').map((l) => l.trim());
        for (const s of states(machine)) {
          const declared = lines.some((l) => l === s.key || l.startsWith(`state ${s.key} {`) || l.includes(`state "${s.key}" as `));
          expect(declared, `state ${s.id} declared`).to.equal(true);
          if (s.type === 'final') expect(mmd).to.match(new RegExp(`\\b\\w*${s.key} --> \\[\\*\\]`));
        }
        expect(mmd).to.contain(`[*] --> ${String(machine.config.initial)}`);
        const opens = (mmd.match(/\{$/gm) ?? []).length;
        expect((mmd.match(/^\s*\}$/gm) ?? []).length).to.equal(opens);
        expect(mmd).to.not.match(/ : [^\n]*[;:]/); // a second ':' or ';' would cut a label short
      });
    });
  }

  it('labels guards, delays, always and parallel regions the Mermaid way', () => {
    const client = diagrams.find((d) => d.name === 'client-connection')!.mermaid;
    expect(client).to.contain('connecting --> failed : LINK_CLOSED [isFinalClose]');
    expect(client).to.match(/connecting --> reconnecting : [^\n]*after\(connectTimeout\)/);
    expect(client).to.contain('reconnecting --> failed : always [outOfAttempts]');
    expect(client).to.contain('probing --> reconnecting : after(pongTimeout)');
    expect(client).to.match(/state open \{\n\s+state heartbeat \{[^]*\n\s+--\n\s+state acks \{[^]*\n\s+--\n\s+state app \{/);
    expect(client).to.contain('state "idle" as open_acks_idle');
    const session = diagrams.find((d) => d.name === 'server-session')!.mermaid;
    expect(session).to.match(/handshake --> closed : [^\n]*LINK_CLOSED/); // a root transition applies in every top state
    expect(session).to.contain('open_outbox_idle --> blocked : BLOCKED'); // a region's own transition applies in its children
    expect(session).to.match(/armed --> armed : [^\n]*ACKED/); // reentering self-transition
  });

  it('writes DIR/<machine>.json and DIR/<machine>.mmd atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsim-diagram-'));
    try {
      const out = join(dir, 'nested', 'out');
      const written = await writeDiagrams(out);
      const names = diagrams.flatMap((d) => [`${d.name}.json`, `${d.name}.mmd`]);
      expect(readdirSync(out).sort()).to.deep.equal([...names].sort()); // no temp files left
      expect(written.map((p) => p.slice(out.length + 1)).sort()).to.deep.equal([...names].sort());
      for (const d of diagrams) {
        expect(readFileSync(join(out, `${d.name}.json`), 'utf8')).to.equal(d.json);
        expect(readFileSync(join(out, `${d.name}.mmd`), 'utf8')).to.equal(d.mermaid);
      }
      await writeDiagrams(out); // overwrite in place
      expect(readdirSync(out)).to.have.length(names.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('docs/diagrams and the README show the machines as they are (regenerate: npm run diagram -- --out docs/diagrams)', () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const d of machineDiagrams()) {
      expect(readFileSync(join('docs/diagrams', `${d.name}.json`), 'utf8'), d.name).to.equal(d.json);
      expect(readFileSync(join('docs/diagrams', `${d.name}.mmd`), 'utf8'), d.name).to.equal(d.mermaid);
      expect(readme, `README embeds ${d.name}`).to.include(d.mermaid.trim());
    }
  });
});
