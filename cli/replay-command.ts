/** The command a person types to replay one run: printed with every failure (CLI and specs). */
import type { FaultOverrides } from '../sim/fault-arbitraries.ts';

export function replayCommand(id: string, seed: number, path: string, overrides?: FaultOverrides, variant?: string): string {
  const flags = Object.entries(overrides ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` --${k === 'disconnectEveryMs' ? 'disconnect-every' : k} ${v}`)
    .join('');
  // a broken variant's failure replays only on that variant
  return `npm run replay -- --scenario ${id} --seed ${seed} --path ${path}${flags}${variant ? ` --variant ${variant}` : ''}`;
}

/** The replay of a swarm failure file. */
export const failureReplayCommand = (file: string): string => `npm run replay -- --failure ${file}`;

/** The command that renders a recorded trace of a run over real sockets (which cannot be re-run). */
export const traceReplayCommand = (file: string): string => `npm run replay -- --trace ${file} --html ${file.replace(/\.jsonl$/, '')}.html`;
