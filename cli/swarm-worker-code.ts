/**
 * Which code a swarm worker thread runs, and starting a thread on it.
 *
 * The built JavaScript (dist/, from `npm run build`, which `npm ci` runs)
 * loads in about 0.2 s of CPU; the TypeScript through tsx takes twice that
 * with tsx's cache warm, more when it is cold. So a worker runs dist/
 * whenever it is there and not older than the sources it was built from, and
 * falls back to tsx in a checkout where dist/ is missing or stale (a source
 * edited since the last build): a stale build would run other code than the
 * one checked out, so it is never used. The installed package (this file as
 * dist/cli/*.js) has no sources: it always runs its own build.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

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

/** Relative imports of a built module: `from`, `import` and `import()` of a `./…/x.js` path (no quoted example here: this file is in the graphs it scans). */
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

/**
 * A worker thread running `code`. TypeScript needs a bootstrap:
 * `new Worker(url, { execArgv: ['--import', 'tsx'] })` fails on Node 20
 * (ERR_UNKNOWN_FILE_EXTENSION: the entry loads before the hooks are in
 * place), so it registers tsx's ESM hooks and then imports the worker module.
 */
export function startWorker(code: WorkerCode = workerCode()): Worker {
  if (code.kind === 'built') return new Worker(code.entry);
  const boot = `import { register } from ${JSON.stringify(tsxApiUrl())}; register(); await import(${JSON.stringify(code.entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv: [] });
}

/**
 * The URL of tsx's ESM API, from tsx's own package exports, resolved from
 * here rather than the caller's working directory. (Not
 * `import.meta.resolve`: under mocha, tsx loads this file as CommonJS.)
 */
function tsxApiUrl(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const entry = pkg.exports['./esm/api']?.import?.default;
  if (!entry) throw new Error(`tsx at ${manifest} has no ESM API export`);
  return pathToFileURL(join(dirname(manifest), entry)).href;
}
