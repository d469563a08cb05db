/**
 * Every bad input, in every command and every SIM_* variable: exit 2, one
 * line on stderr (`wsim <command>: ...`), nothing on stdout, never a stack
 * trace. The table runs in-process (runCli), so 50 invocations take a second;
 * a few run as real processes, the way a user meets them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SCENARIO_IDS } from '../../sim/scenarios/index.ts';
import { badInputProblems, invoke, spawnWsim, type Invocation } from './invoke.ts';

const ID = 'connection_failure_recovery';
const dir = mkdtempSync(join(tmpdir(), 'wsim-bad-input-'));
const corrupt = join(dir, 'corrupt.json');
const notFailure = join(dir, 'not-a-failure.json');
writeFileSync(corrupt, '{"scenario": ');
writeFileSync(notFailure, '{"runs": 3}');

/** [command the error names, args, env?, what the line must say] */
type Case = [command: string, args: string[], env: Record<string, string>, says: RegExp];

const CASES: Case[] = [
  // the program
  ['', [], {}, /a command is needed: run, replay, swarm/],
  ['', ['rnu'], {}, /unknown command 'rnu'; did you mean run\?/],
  ['', ['sawrm'], {}, /did you mean swarm\?/],
  ['', ['--versoin'], {}, /unknown option '--versoin'/],
  // run
  ['run', ['run', '--seed', 'abc'], {}, /--seed: must be a whole number from 0 to 2147483647, got 'abc'/],
  ['run', ['run', '--seed', '-1'], {}, /--seed: must be a whole number/],
  ['run', ['run', '--seed', '99999999999'], {}, /--seed: /],
  ['run', ['run', '--seed', '1.5'], {}, /--seed: /],
  ['run', ['run', '--seed'], {}, /argument missing/],
  ['run', ['run', '--runs', '0'], {}, /--runs: must be a whole number ≥ 1, got '0'/],
  ['run', ['run', '--runs', '-3'], {}, /--runs: /],
  ['run', ['run', '--runs', 'many'], {}, /--runs: /],
  ['run', ['run', '--scenario', 'nope'], {}, /unknown scenario 'nope' \(list them: wsim run --list\)/],
  ['run', ['run', '--scenario', 'mission_critical_event_delivery_guaranteed'], {}, /did you mean 'mission_critical_events_delivery_guaranteed'\?/],
  ['run', ['run', '--scenario', 'Connection_Failure_Recovery'], {}, /did you mean 'connection_failure_recovery'\?/],
  ['run', ['run', '--transport', 'tcp'], {}, /--transport must be sim or ws, got 'tcp'/],
  ['run', ['run', '--transport', 'ws', '--scenario', 'node_failover_resume'], {}, /node_failover_resume is a cluster scenario: it runs in the simulated world only/],
  ['run', ['run', '--drop', '2'], {}, /--drop: must be a probability from 0 to 1, got '2'/],
  ['run', ['run', '--dup', '-0.1'], {}, /--dup: /],
  ['run', ['run', '--reorder', 'x'], {}, /--reorder: /],
  ['run', ['run', '--disconnect-every', '0'], {}, /--disconnect-every: /],
  ['run', ['run', '--sed', '3'], {}, /unknown option '--sed'; did you mean --seed\?/],
  ['run', ['run', 'all'], {}, /too many arguments/],
  ['run', ['run', '--verbose', '--quiet'], {}, /--verbose and --quiet/],
  // the SIM_* variables, for every command that reads them
  ['run', ['run'], { SIM_SEED: 'abc' }, /SIM_SEED must be a whole number from 0 to 2147483647, got 'abc'/],
  ['run', ['run', '--scenario', ID], { SIM_SEED: '-5' }, /SIM_SEED /],
  ['run', ['run', '--seed', '3'], { SIM_SEED: '' }, /SIM_SEED /],
  ['run', ['run'], { SIM_RUNS: 'abc' }, /SIM_RUNS must be a number > 0 .*, got 'abc'/],
  ['run', ['run'], { SIM_RUNS: '0' }, /SIM_RUNS /],
  ['run', ['run'], { SIM_RUNS: '-1' }, /SIM_RUNS /],
  ['replay', ['replay', '--scenario', ID], { SIM_SEED: '4.2' }, /SIM_SEED /],
  ['swarm', ['swarm', '--runs', '1'], { SIM_SEED: 'x' }, /SIM_SEED /],
  ['inspect', ['inspect', '--scenario', ID], { SIM_RUNS: 'lots' }, /SIM_RUNS /],
  // replay
  ['replay', ['replay'], {}, /--scenario ID is required \(or --failure FILE\)/],
  ['replay', ['replay', '--scenario', ID, '--path', 'garbage'], {}, /--path: must be a run number or a fast-check path like 3:0:1, got 'garbage'/],
  ['replay', ['replay', '--scenario', ID, '--path', '99:99:99'], {}, /path 99:99:99 does not fit seed 42/],
  ['replay', ['replay', '--scenario', ID, '--format', 'xml'], {}, /--format must be text or ag-ui, got "xml"/],
  ['replay', ['replay', '--scenario', ID, '--limit', '0'], {}, /--limit: /],
  ['replay', ['replay', '--scenario', 'user_specfic_event_routing'], {}, /did you mean 'user_specific_event_routing'\?/],
  ['replay', ['replay', '--failure', join(dir, 'missing.json')], {}, /cannot read failure file/],
  ['replay', ['replay', '--failure', corrupt], {}, /cannot read failure file/],
  ['replay', ['replay', '--failure', notFailure], {}, /is not a wsim failure file/],
  // swarm
  ['swarm', ['swarm'], {}, /--runs N is required/],
  ['swarm', ['swarm', '--runs', '0'], {}, /--runs: /],
  ['swarm', ['swarm', '--runs', '5', '--workers', '0'], {}, /--workers: /],
  ['swarm', ['swarm', '--runs', '5', '--shard', '3/2'], {}, /--shard: I\/N needs 1 ≤ I ≤ N, got '3\/2'/],
  ['swarm', ['swarm', '--runs', '5', '--shard', 'half'], {}, /--shard: must be I\/N/],
  ['swarm', ['swarm', '--runs', '1', '--seed', '-1'], {}, /--seed: must be a whole number from 0/],
  ['swarm', ['swarm', '--merge', join(dir, 'missing.json')], {}, /--merge: cannot read/],
  ['swarm', ['swarm', '--runs', '1000000000'], {}, /1,000,000,000 seeds in one process is too many .* --shard I\/N/],
  ['swarm', ['swarm', '--merge', corrupt], {}, /--merge: .*not JSON/],
  // inspect
  ['inspect', ['inspect'], {}, /--scenario ID is required/],
  ['inspect', ['inspect', '--scenario', ID, '--path', 'garbage'], {}, /--path: must be a run number/],
  ['inspect', ['inspect', '--scenario', ID, '--port', '0', '--path', '99:99:99'], {}, /path 99:99:99 does not fit seed 42/],
  ['inspect', ['inspect', '--scenario', ID, '--pace', '0'], {}, /--pace: must be a number > 0/],
  ['inspect', ['inspect', '--scenario', ID, '--port', '70000'], {}, /--port: must be a port from 0 to 65535/],
  ['inspect', ['inspect', '--scenario', ID, '--exit-after', '0'], {}, /--exit-after: must be a number of seconds > 0/],
  ['inspect', ['inspect', '--scenario', ID, '--wait', '-1'], {}, /--wait: /],
  ['inspect', ['inspect', '--scenario', 'nope'], {}, /unknown scenario 'nope'/],
  // diagram and bench
  ['diagram', ['diagram', '--out', join(corrupt, 'x')], {}, /cannot write to .*ENOTDIR/],
  ['diagram', ['diagram', 'now'], {}, /too many arguments/],
  ['bench', ['bench', '--quik'], {}, /unknown option '--quik'; did you mean --quick\?/],
  ['bench', ['bench', 'fast'], {}, /too many arguments/],
];

describe('cli: bad input', function () {
  this.timeout(60_000);
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`answers ${CASES.length} bad invocations with exit 2 and one line, never a stack trace`, async () => {
    expect(CASES.length).to.be.at.least(40);
    const commands = new Set(CASES.map(([c]) => c));
    for (const c of ['', 'run', 'replay', 'swarm', 'inspect', 'diagram', 'bench']) expect(commands.has(c), `a case for '${c}'`).to.equal(true);
    const wrong: string[] = [];
    for (const [command, args, env, says] of CASES) {
      const r = await invoke(args, env);
      const problems = badInputProblems(r, command);
      if (!says.test(r.stderr)) problems.push(`does not say ${says}`);
      if (problems.length > 0) wrong.push(`wsim ${args.join(' ')} ${JSON.stringify(env)}: ${problems.join('; ')}\n      stderr: ${r.stderr.trim()}`);
    }
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
  });

  it('the judge of a bad-input answer catches what the CLI used to do', () => {
    // inspect --path garbage, before: a fast-check stack trace and exit 1
    const stack: Invocation = { code: 1, stdout: '', stderr: 'Error: Unable to replay, got invalid path=garbage\n    at Runner (node_modules/fast-check/lib/check.js:12:5)\n' };
    expect(badInputProblems(stack, 'inspect')).to.include.members(['exit 1, not 2', '2 lines on stderr, not 1', 'a stack trace or a raw Error']);
    // an unknown scenario, before: commander's prefix and a 1,300-character list of every id
    const list: Invocation = { code: 2, stdout: '', stderr: `error: option '--scenario <id>' argument 'x' is invalid. Allowed choices are ${SCENARIO_IDS.join(', ')}.\n` };
    const problems = badInputProblems(list, 'run');
    expect(problems.some((p) => p.startsWith("stderr does not start with 'wsim run: '"))).to.equal(true);
    expect(problems.some((p) => /-character line/.test(p))).to.equal(true);
    // output on stdout breaks `npm run -s ... --json | jq`
    expect(badInputProblems({ code: 2, stdout: '{}', stderr: 'wsim run: x\n' }, 'run')).to.have.length(1);
    expect(badInputProblems({ code: 2, stdout: '', stderr: 'wsim run: x\n' }, 'run')).to.deep.equal([]);
  });

  it('as real processes: a mistyped command, a bad SIM_RUNS, the old inspect stack trace', async () => {
    const cases: [string, string[], Record<string, string>][] = [
      ['', ['rnu'], {}],
      ['run', ['run', '--scenario', ID], { SIM_RUNS: 'abc' }],
      ['inspect', ['inspect', '--scenario', ID, '--path', 'garbage', '--no-open'], {}],
    ];
    const results = await Promise.all(cases.map(([, args, env]) => spawnWsim(args, env)));
    results.forEach((r, i) => expect(badInputProblems(r, cases[i]![0]), `${cases[i]![1].join(' ')}: ${r.stderr}`).to.deep.equal([]));
  });

  it('wsim --version prints the package version; --help lists every command', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    const v = await invoke(['--version']);
    expect(v).to.deep.equal({ code: 0, stdout: `${version}\n`, stderr: '' });
    const help = await invoke(['--help']);
    expect(help.code).to.equal(0);
    for (const c of ['run', 'replay', 'swarm', 'inspect', 'diagram', 'bench']) expect(help.stdout).to.match(new RegExp(`\\n\\s+${c}\\b`));
  });
});
