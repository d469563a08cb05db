/**
 * What users install is what this spec runs: the package is packed (`npm pack`
 * builds dist/ through `prepare`, unless dist/ is newer than all its sources), the tarball installed into an empty project
 * (dependencies from npm's cache, the registry only for what is missing), and
 * there README's examples are type-checked with `tsc` and run verbatim with
 * plain `node`: no tsx, no path into this repository. `npx wsim serve --demo`
 * serves its page, and the curl and Python publish examples reach it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { SCENARIOS } from '../../sim/scenarios/index.ts';
import { exampleFile, shellBlock } from './readme-examples.ts';

const run = promisify(execFile);

/** dist/ is newer than every source of it (npm ci just built it, as in CI): packing need not build it again. */
function distIsFresh(): boolean {
  const built = join(REPO, 'dist/cli/wsim.js');
  if (!existsSync(built)) return false;
  const newest = (path: string): number => {
    const stat = statSync(path);
    if (!stat.isDirectory()) return stat.mtimeMs;
    return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
  };
  const sources = ['src', 'machines', 'sim', 'transport', 'cli', 'bench', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
  return sources.every((source) => newest(join(REPO, source)) < statSync(built).mtimeMs);
}
const REPO = resolve('.');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** A process whose output is watched; `waitFor` resolves once stdout holds a match. */
class Watched {
  stdout = '';
  stderr = '';
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  async waitFor(pattern: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (this.child.exitCode !== null || Date.now() > deadline) expect.fail(`no ${pattern} in stdout (exit ${this.child.exitCode}):\n${this.stdout}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM to its process group (npx runs wsim as a child of its own), SIGKILL if it outlives `ms`. */
  async stop(ms = 6000): Promise<void> {
    const pid = this.child.pid;
    if (this.child.exitCode !== null || this.child.signalCode !== null || pid === undefined) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-pid, signal);
      } catch {
        // gone already
      }
    };
    group('SIGTERM');
    const timer = setTimeout(() => group('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  }
}

describe('package: the packed tarball in a fresh project', function () {
  this.timeout(600_000);
  let dir: string;
  let tarball: string;
  const running: Watched[] = [];
  const start = (cmd: string, args: string[], env: Record<string, string> = {}) => {
    const w = new Watched(spawn(cmd, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
    running.push(w);
    return w;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsim-pack-'));
    const build = distIsFresh() ? ['--ignore-scripts'] : [];
    const { stdout } = await run('npm', ['pack', '--json', ...build, '--pack-destination', dir], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
    const packed = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
    tarball = join(dir, packed[0]!.filename);
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).to.include.members(['package.json', 'dist/src/server.js', 'dist/src/server.d.ts', 'dist/src/client.js', 'dist/browser/wsim-client.js', 'dist/cli/wsim.js']);
    expect(files.filter((f) => /^(spec|\.ci|machines|src|bench|cli|sim|transport)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no sources, specs or CI in the package').to.deep.equal([]);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'wsim-user', private: true, type: 'module' }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, '@types/node@20.19.43'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
    const { stdout: du } = await run('du', ['-sk', join(dir, 'node_modules/wsim'), join(dir, 'node_modules')]);
    console.log(`      tarball ${(packed[0]!.size / 1024).toFixed(0)} kB, ${files.length} files; installed: ${du.trim().split('\n').map((l) => l.split('\t').reverse().join(' ')).join(', ')} (kB)`);
  });

  after(async () => {
    await Promise.all(running.map((w) => w.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs no tsx: the bin runs with plain node', async () => {
    expect(existsSync(join(dir, 'node_modules/tsx')), 'tsx is not installed for users').to.equal(false);
    const { stdout } = await run(process.execPath, [join(dir, 'node_modules/.bin/wsim'), '--help'], { cwd: dir });
    expect(stdout).to.match(/serve/);
    const version = await run(process.execPath, [join(dir, 'node_modules/.bin/wsim'), '--version'], { cwd: dir });
    expect(version.stdout.trim()).to.equal((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
    const sim = await run(process.execPath, [join(dir, 'node_modules/.bin/wsim'), 'run', '--scenario', 'user_specific_event_routing', '--runs', '1', '--json'], { cwd: dir });
    expect((JSON.parse(sim.stdout) as { scenarios: { passed: boolean }[] }).scenarios[0]!.passed).to.equal(true);
  });

  it('wsim replay --html writes one self-contained page: the shipped timeline style and script inlined', async () => {
    const html = join(dir, 'timeline.html');
    await run(process.execPath, [join(dir, 'node_modules/.bin/wsim'), 'replay', '--scenario', 'user_specific_event_routing', '--html', html], { cwd: dir });
    const page = readFileSync(html, 'utf8');
    for (const asset of ['timeline.css', 'timeline.js']) {
      expect(existsSync(join(dir, 'node_modules/wsim/dist/cli/timeline', asset)), `${asset} ships in the package`).to.equal(true);
      expect(page, `${asset} is inlined`).to.contain(readFileSync(join(REPO, 'cli/timeline', asset), 'utf8'));
    }
    expect(page).to.contain('<script type="application/json" id="wsim-data">');
  });

  it('exports wsim, wsim/server, wsim/client, wsim/sim and wsim/browser', async () => {
    const probe = [
      "const [core, server, client, sim] = await Promise.all(['wsim', 'wsim/server', 'wsim/client', 'wsim/sim'].map((m) => import(m)));",
      "const bundle = await import.meta.resolve('wsim/browser');",
      'console.log(JSON.stringify([typeof core.decode, typeof core.clientConnectionMachine, typeof server.createWsimServer, typeof client.createWsimClient, sim.SCENARIOS.length, bundle.endsWith("/dist/browser/wsim-client.js")]));',
    ].join('\n');
    writeFileSync(join(dir, 'probe.mjs'), probe);
    const { stdout } = await run(process.execPath, ['probe.mjs'], { cwd: dir });
    expect(JSON.parse(stdout)).to.deep.equal(['function', 'object', 'function', 'function', SCENARIOS.length, true]);
  });

  it('type-checks README’s server and client examples with tsc against the installed .d.ts', async () => {
    writeFileSync(join(dir, 'server.mjs'), exampleFile('server.mjs'));
    writeFileSync(join(dir, 'client.mjs'), exampleFile('client.mjs'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { allowJs: true, checkJs: true, noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'] }, files: ['server.mjs', 'client.mjs'] }),
    );
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir }).catch((error: { stdout: string }) => expect.fail(`tsc:\n${error.stdout}`));
  });

  it('runs README’s server and client examples verbatim: the client app receives what the server published', async () => {
    const port = await freePort();
    const server = start(process.execPath, ['server.mjs'], { PORT: String(port) });
    const [line] = await server.waitFor(/^\{"ok":true.*$/m);
    expect(JSON.parse(line!)).to.deep.equal({ ok: true, accepted: [{ thread: 'th1', seq: 1, duplicate: false }, { thread: 'th1', seq: 2, duplicate: false }] });
    const client = start(process.execPath, ['client.mjs'], { WSIM_WS: `ws://127.0.0.1:${port}/ws` });
    await client.waitFor(/^2 agent_thinking flights first$/m);
    expect(client.stdout).to.equal('1 agent_started plan a trip\n2 agent_thinking flights first\n');
    await client.stop();
    await server.stop();
  });

  it('npx wsim serve --demo serves the page and the bundle; README’s curl and Python examples publish to it', async () => {
    const secret = 'pack-spec-secret';
    const serve = start('npx', ['wsim', 'serve', '--demo', '--port', '0', '--json'], { WSIM_PUBLISH_SECRET: secret });
    const [line] = await serve.waitFor(/^\{.*\}$/m, 60_000);
    const { url } = JSON.parse(line!) as { url: string };
    const page = await fetch(`${url}/`);
    expect(await page.text()).to.contain('<title>wsim demo</title>');
    const bundle = await (await fetch(`${url}/wsim-client.js`)).text();
    expect(bundle).to.equal(readFileSync(join(dir, 'node_modules/wsim/dist/browser/wsim-client.js'), 'utf8'));
    expect(bundle, 'no Node built-in in the browser bundle').to.not.match(/\bfrom\s*["']node:|require\(["'](node:)?(http|net|fs|crypto|stream)["']\)/);

    writeFileSync(join(dir, 'publish.py'), exampleFile('publish.py'));
    const py = await run('python3', ['publish.py'], { cwd: dir, env: { ...process.env, WSIM_URL: url, WSIM_PUBLISH_SECRET: secret } });
    expect(py.stdout.trim()).to.equal("[{'thread': 'th1', 'seq': 1}, {'thread': 'th1', 'seq': 2}]");
    const curl = await run('bash', ['-c', shellBlock('/v1/publish')], { cwd: dir, env: { ...process.env, WSIM_URL: url, WSIM_PUBLISH_SECRET: secret } });
    expect(JSON.parse(curl.stdout)).to.deep.equal({ accepted: [{ thread: 'th1', seq: 3 }] });
    // the same Python call again is a retry: the same seqs, nothing appended
    const again = await run('python3', ['publish.py'], { cwd: dir, env: { ...process.env, WSIM_URL: url, WSIM_PUBLISH_SECRET: secret } });
    expect(again.stdout).to.equal(py.stdout);
    await serve.stop();
  });
});
