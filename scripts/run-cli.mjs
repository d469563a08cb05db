#!/usr/bin/env node
// `node scripts/run-cli.mjs [--build] ARGS...`: `wsim ARGS` on the code users run.
//
// The built JavaScript (dist/) when it is fresh, else the TypeScript through tsx,
// in this same process, said in one line on stderr (none with --quiet). Fresh is
// the swarm's check (cli/swarm-worker-code.ts, from its own build): no source of
// dist/cli/main.js's import graph is newer than its built file, so a stale build
// never runs other code than the one checked out. `--build` (npm run bench) builds
// a missing or stale dist/ first: the bench measures what users run.
// Node flags (--max-semi-space-size) go on this script's own command line.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const builtMain = join(dist, 'cli', 'main.js');
const freshness = join(dist, 'cli', 'swarm-worker-code.js');

/** Why dist/ cannot run (one phrase), or null when it is fresh. */
async function staleness() {
  if (!existsSync(builtMain) || !existsSync(freshness)) return 'dist/ is not built';
  const { staleSource } = await import(pathToFileURL(freshness).href);
  const stale = staleSource(builtMain, dist, root);
  return stale === null ? null : `${stale} changed since the last build`;
}

/** `npm run build` with its output on stderr (stdout stays the command's own: --json); false when it fails. */
function build() {
  try {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 2, 2] });
    return true;
  } catch {
    return false;
  }
}

const argv = process.argv.slice(2);
const wantBuild = argv[0] === '--build';
const args = wantBuild ? argv.slice(1) : argv;
const say = (line) => (args.includes('--quiet') ? undefined : process.stderr.write(`wsim ${args[0] ?? ''}: ${line}\n`));

let why = await staleness();
if (why !== null && wantBuild) {
  process.stderr.write(`wsim ${args[0] ?? ''}: ${why}: building dist/ first (npm run build)\n`);
  why = build() ? await staleness() : 'npm run build failed';
}
// main.ts reads its arguments from process.argv.slice(2)
if (why === null) {
  say('runs the built JavaScript (dist/, fresh)');
  process.argv = [process.argv[0], builtMain, ...args];
  await import(pathToFileURL(builtMain).href);
} else {
  say(`runs the TypeScript through tsx (${why}; npm run build to run dist/)`);
  const { register } = await import('tsx/esm/api');
  register();
  const sourceMain = join(root, 'cli', 'main.ts');
  process.argv = [process.argv[0], sourceMain, ...args];
  await import(pathToFileURL(sourceMain).href);
}
