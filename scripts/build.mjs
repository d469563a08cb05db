#!/usr/bin/env node
// Builds the package into dist/: JavaScript and .d.ts from the TypeScript sources
// (imports of ./x.ts rewritten to ./x.js), the timeline page's style and script
// (read at run time from beside cli/timeline-html.js), then the browser client as one ESM file.
// Run by `npm run build` and by `npm ci` (the prepare script).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);
rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
chmodSync('dist/cli/wsim.js', 0o755);
cpSync('cli/timeline', 'dist/cli/timeline', { recursive: true });
// platform 'browser': an import of a Node built-in fails the build instead of shipping
await build({
  entryPoints: ['src/browser.ts'],
  outfile: 'dist/browser/wsim-client.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
