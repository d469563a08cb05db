/**
 * Which code a swarm worker thread runs. The built JavaScript (dist/, from
 * `npm run build`, which `npm ci` runs) starts in about 0.1 s; the TypeScript
 * through tsx takes about 0.8 s per worker, which is most of a short swarm.
 * So a worker runs dist/ whenever it is there and not older than the sources
 * it was built from, and falls back to tsx in a checkout where dist/ is
 * missing or stale (a source edited since the last build): a stale build
 * would run other code than the one under test, so stale is never used.
 * The installed package (this file as dist/cli/*.js) has no sources: it is
 * always the built code.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type WorkerCode =
  | { kind: 'built'; entry: URL }
  /** `why`: one line on why the built code is not used. */
  | { kind: 'source'; entry: URL; why: string };

const WORKER = 'swarm-worker';

/** The worker's code, seen from this module's own URL (a parameter for tests). */
export function workerCode(here: string = import.meta.url): WorkerCode {
  if (here.endsWith('.js')) return { kind: 'built', entry: new URL(`./${WORKER}.js`, here) };
  const source = new URL(`./${WORKER}.ts`, here);
  const root = dirname(dirname(fileURLToPath(here)));
  const built = join(root, 'dist', 'cli', `${WORKER}.js`);
  if (!existsSync(built)) return { kind: 'source', entry: source, why: 'dist/ is not built (npm run build)' };
  const stale = staleSource(built, join(root, 'dist'), root);
  if (stale !== null) return { kind: 'source', entry: source, why: `${stale} changed since the last build (npm run build)` };
  return { kind: 'built', entry: pathToFileURL(built) };
}

/** Relative imports of a built module: `from './x.js'`, `import './x.js'`, `import('./x.js')`. */
const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.\.?\/[^'"]+\.js)['"]/g;

/**
 * The first source (relative to `sourceRoot`) of the modules `entry` loads that
 * is newer than its built file or gone, or null when the whole graph is fresh.
 * Only the worker's own import graph counts: an edited spec or bench does not
 * make the worker's build stale.
 */
export function staleSource(entry: string, distRoot: string, sourceRoot: string): string | null {
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const name = relative(distRoot, file).replace(/\.js$/, '.ts');
    const source = join(sourceRoot, name);
    if (!existsSync(file) || !existsSync(source) || statSync(source).mtimeMs > statSync(file).mtimeMs) return name;
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) queue.push(join(dirname(file), m[1]!));
  }
  return null;
}
