/**
 * `wsim`: the command line (cli/program.ts). Each subcommand lives in its own
 * file and is loaded only when asked for, so `wsim run` never pays for the
 * inspector or the benchmarks. Usage errors exit 2 with one line; failed
 * scenarios exit 1.
 */
import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// A command is done when runCli resolves; a handle someone else left open
// (a browser on the inspector's relay, a worker) must not keep the process up.
setTimeout(() => process.exit(code), 2000).unref();
