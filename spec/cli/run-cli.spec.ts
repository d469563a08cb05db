/**
 * scripts/run-cli.mjs, what `npm run sim` and `npm run bench` start: it runs
 * the built JavaScript exactly when the swarm's freshness check says dist/ is
 * the checked-out code, else the TypeScript through tsx, and says which in one
 * line on stderr (none with --quiet); stdout stays the command's own.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { staleSource } from '../../cli/swarm-worker-code.ts';

const root = process.cwd();

function launch(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['scripts/run-cli.mjs', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** What the launcher must choose in this checkout right now. */
function expected(): 'dist' | 'tsx' {
  const main = join(root, 'dist', 'cli', 'main.js');
  return existsSync(main) && staleSource(main, join(root, 'dist'), root) === null ? 'dist' : 'tsx';
}

describe('scripts/run-cli.mjs (npm run sim, npm run bench)', function () {
  this.timeout(120_000);

  it('runs dist/ when it is fresh, else tsx, and says which in one stderr line', async () => {
    const before = expected();
    const { code, stdout, stderr } = await launch(['run', '--list']);
    expect(code, stderr).to.equal(0);
    expect(stdout).to.contain('sustained_load_endurance_performance');
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).to.have.length(1);
    const said = /^wsim run: runs the built JavaScript \(dist\/, fresh\)$/.test(lines[0]!) ? 'dist' : /^wsim run: runs the TypeScript through tsx \(.+; npm run build to run dist\/\)$/.test(lines[0]!) ? 'tsx' : 'neither';
    // another spec file may be rebuilding dist/ meanwhile (the package spec, on a stale build): either state counts
    expect([before, expected()], lines[0]).to.include(said);
  });

  it('says nothing with --quiet and passes the command its exit code', async () => {
    const { code, stdout, stderr } = await launch(['run', '--scenario', 'no_such_scenario', '--quiet']);
    expect(code).to.equal(2);
    expect(stdout).to.equal('');
    expect(stderr.trim().split('\n'), stderr).to.have.length(1);
    expect(stderr).to.match(/^wsim run: .*no_such_scenario/);
  });
});
