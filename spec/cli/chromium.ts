/**
 * Headless Chromium driven over the DevTools protocol (a WebSocket, with
 * `ws`): open a page, evaluate, move and click the mouse, take screenshots.
 * Enough for a spec to look at the HTML timeline the way a person does.
 * Everything is bounded in time and the browser is killed at the end.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = (): boolean => existsSync(CHROMIUM);

export interface Page {
  evaluate<T>(expression: string): Promise<T>;
  mouse(type: 'mouseMoved' | 'mousePressed' | 'mouseReleased', x: number, y: number): Promise<void>;
  click(x: number, y: number): Promise<void>;
  /** A PNG of the viewport. */
  screenshot(): Promise<Buffer>;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** Open `url` at `width`×`height` in a fresh headless Chromium, run `use`, close everything. */
export async function withPage<T>(url: string, width: number, height: number, use: (page: Page) => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'wsim-chromium-'));
  const browser = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const deadline = setTimeout(() => browser.kill('SIGKILL'), timeoutMs);
  let socket: WebSocket | undefined;
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let text = '';
      browser.stderr!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
        if (m) resolve(m[1]!);
      });
      browser.once('exit', (code) => reject(new Error(`chromium exited (${code}) before listening: ${text.slice(0, 300)}`)));
    });
    const ws = (socket = new WebSocket(endpoint));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    let id = 0;
    const pending = new Map<number, Pending>();
    const listeners: ((method: string, params: unknown) => void)[] = [];
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: unknown };
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(msg.error.message));
        else p?.resolve(msg.result);
      } else if (msg.method) for (const l of listeners) l(msg.method, msg.params);
    });
    const send = <R>(method: string, params: object = {}, sessionId?: string): Promise<R> =>
      new Promise<R>((resolve, reject) => {
        const n = ++id;
        pending.set(n, { resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ id: n, method, params, ...(sessionId ? { sessionId } : {}) }));
      });
    const { targetId } = await send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    const on = (method: string, params: object = {}) => send(method, params, sessionId);
    await on('Page.enable');
    await on('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    const loaded = new Promise<void>((resolve) => listeners.push((method) => method === 'Page.loadEventFired' && resolve()));
    await on('Page.navigate', { url });
    await loaded;
    const page: Page = {
      evaluate: async <R>(expression: string) => {
        const r = await on('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }) as { result: { value: R }; exceptionDetails?: { text: string } };
        if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.text}`);
        return r.result.value;
      },
      mouse: async (type, x, y) => {
        await on('Input.dispatchMouseEvent', { type, x, y, button: type === 'mouseMoved' ? 'none' : 'left', clickCount: type === 'mouseMoved' ? 0 : 1 });
      },
      click: async (x, y) => {
        await page.mouse('mouseMoved', x, y);
        await page.mouse('mousePressed', x, y);
        await page.mouse('mouseReleased', x, y);
      },
      screenshot: async () => Buffer.from((await on('Page.captureScreenshot', { format: 'png' }) as { data: string }).data, 'base64'),
    };
    return await use(page);
  } finally {
    clearTimeout(deadline);
    socket?.terminate();
    const exited = new Promise((resolve) => (browser.exitCode !== null ? resolve(null) : browser.once('exit', resolve)));
    // its own process group (detached): the renderers and zygote die with it
    try {
      process.kill(-browser.pid!, 'SIGKILL');
    } catch {
      browser.kill('SIGKILL');
    }
    await exited;
    // chromium's helper processes may still be writing the profile as the main one dies: retry
    rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }
}
