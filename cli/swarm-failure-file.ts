/**
 * A failing swarm seed's file in `.wsim/failures/`: the exact input that ran,
 * so `npm run replay -- --failure FILE` reproduces it byte for byte.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { failureReplayCommand, replayCommand } from './replay-command.ts';
import type { SwarmResult, SwarmTransform } from './swarm-seed.ts';
import type { ScenarioInput } from '../sim/scenario.ts';

export interface FailureFile {
  version: 1;
  scenario: string;
  seed: number;
  /** The fault vector the seed drew over its scenario's plan. */
  transform: SwarmTransform;
  /** Exactly what ran: `runInput(scenario, input, { seed, offPlan: true })` reproduces it. */
  input: ScenarioInput;
  failures: string[];
  traceHash: string;
  /** Replays this file (the swarm's transformed input). */
  replay: string;
  /** The scenario's own, untransformed draw at this seed — not what failed here. */
  scenarioReplay: string;
}

export const DEFAULT_FAILURE_DIR = join('.wsim', 'failures');

export const failureFileName = (scenario: string, seed: number): string => `${scenario}-${seed}.json`;

/** A path as a person types it: relative to the working directory when inside it. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export const failureReplay = (file: string): string => failureReplayCommand(shown(file));

/** Write a failing seed's file atomically (temp file in the same directory, then rename). */
export async function writeFailureFile(dir: string, r: SwarmResult & { detail: NonNullable<SwarmResult['detail']> }): Promise<{ path: string; file: FailureFile }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, failureFileName(r.scenario, r.seed));
  const file: FailureFile = {
    version: 1,
    scenario: r.scenario,
    seed: r.seed,
    transform: r.detail.transform,
    input: r.detail.input,
    failures: r.failures,
    traceHash: r.traceHash,
    replay: failureReplay(path),
    scenarioReplay: replayCommand(r.scenario, r.seed, '0'),
  };
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  return { path, file };
}
