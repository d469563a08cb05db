/**
 * Debian's Chromium, driven headless through puppeteer-core. On a developer
 * machine without it the browser specs skip; in CI (.ci/run installs it) a
 * missing browser fails them.
 */
import { existsSync } from 'node:fs';
import { build } from 'esbuild';
import { expect } from 'chai';
import puppeteer, { type Browser } from 'puppeteer-core';
import { startServe, type ServeOptions, type Serving } from '../../cli/serve-start.ts';

export const CHROMIUM = '/usr/bin/chromium';

export function requireChromium(context: Mocha.Context): void {
  if (existsSync(CHROMIUM)) return;
  if (process.env.CI) expect.fail(`CI=${process.env.CI} but ${CHROMIUM} is missing: .ci/run must install chromium`);
  context.skip();
}

export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // CI runs as root in a container: Chromium's sandbox needs user namespaces it may not have
    // a page the test serves by request interception counts as public, and Chromium's local-network-access
    // checks would then block its socket to 127.0.0.1 (a page served from that server itself is not blocked)
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-features=LocalNetworkAccessChecks'],
    timeout: 60_000,
  });
}

/** The browser bundle of this checkout, built as scripts/build.mjs builds dist/browser/wsim-client.js. */
export async function browserBundle(): Promise<string> {
  const out = await build({ entryPoints: ['src/browser.ts'], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
  return out.outputFiles[0]!.text;
}

export interface BrowserSession {
  serving: Serving;
  browser: Browser;
}

/** For a describe: each test gets a `wsim serve` on 127.0.0.1:0 and a Chromium, both closed after it. */
export function serveAndChromium(): (context: Mocha.Context, options: Omit<ServeOptions, 'host' | 'port'>) => Promise<BrowserSession> {
  let open: Partial<BrowserSession> = {};
  afterEach(async () => {
    await open.browser?.close();
    await open.serving?.close();
    open = {};
  });
  return async (context, options) => {
    requireChromium(context);
    open.serving = await startServe({ host: '127.0.0.1', port: 0, ...options });
    open.browser = await launchChromium();
    return open as BrowserSession;
  };
}
