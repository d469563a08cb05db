/**
 * The README's embedding example runs as written: the code block is taken from
 * README.md, given port 0 and a render function, and run in a child process
 * that must print RENDERED once the client's app received the event.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';

function exampleProgram(): string {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf("```ts\nimport http from 'node:http';");
  expect(start, 'README has the embedding example').to.be.greaterThan(-1);
  const code = readme.slice(start + 6, readme.indexOf('```', start + 6));
  const root = resolve('.');
  return [
    'const rendered: unknown[] = [];',
    'const render = (e: unknown) => { rendered.push(e); };',
    code.replaceAll("'./machines/", `'${root}/machines/`).replaceAll("'./transport/", `'${root}/transport/`).replace("listen(8080, '127.0.0.1')", "listen(0, '127.0.0.1')"),
    'const deadline = Date.now() + 8000;',
    'while (rendered.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));',
    "console.log(rendered.length === 1 ? 'RENDERED' : `rendered ${rendered.length}`);",
    'client.stop(); hub.stop(); await ws.close(); httpServer.close();',
  ].join('\n');
}

describe('transport: the README embedding example', function () {
  this.timeout(20_000);

  it('runs as written (on port 0) and the client app receives the published event', async () => {
    // inside the repository (in the ignored .wsim/) so that the example's imports resolve
    mkdirSync('.wsim', { recursive: true });
    const file = join('.wsim', 'readme-example.mts');
    writeFileSync(file, exampleProgram());
    const out = await new Promise<string>((done, fail) =>
      execFile(process.execPath, ['--import', 'tsx', file], { timeout: 15_000 }, (err, stdout, stderr) => (err ? fail(new Error(`${err.message}\n${stderr}`)) : done(stdout))),
    );
    expect(out.trim().split('\n').at(-1)).to.equal('RENDERED');
  });
});
