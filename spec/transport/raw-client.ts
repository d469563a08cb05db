/**
 * A bare `ws` client for the transport specs: no machine, no protocol, so a
 * spec can send anything (garbage, binary, floods), stop reading, and see
 * exactly what the server answers and how it closes.
 */
import WebSocket from 'ws';
import { sleep, waitFor } from './harness.ts';

export interface RawClient {
  ws: WebSocket;
  /** Text messages received, in order. */
  messages: string[];
  /** Parsed `type` of each message (undefined when not JSON). */
  types(): (string | undefined)[];
  /** HTTP status of a refused upgrade, if any. */
  status: number | null;
  close: { code: number; reason: string } | null;
  opened: boolean;
  waitOpen(timeoutMs?: number): Promise<void>;
  waitClosed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
}

export interface RawOptions {
  token?: string;
  tokenIn?: 'header' | 'query';
  conn?: string;
}

const open = new Set<WebSocket>();

export function rawClient(url: string, options: RawOptions = {}): RawClient {
  const target = new URL(url);
  if (options.conn) target.searchParams.set('conn', options.conn);
  if (options.token !== undefined && options.tokenIn === 'query') target.searchParams.set('token', options.token);
  const headers: Record<string, string> = options.token !== undefined && options.tokenIn !== 'query' ? { authorization: `Bearer ${options.token}` } : {};
  const ws = new WebSocket(target, { headers, perMessageDeflate: false });
  open.add(ws);
  const client: RawClient = {
    ws,
    messages: [],
    types: () =>
      client.messages.map((m) => {
        try {
          return (JSON.parse(m) as { type?: string }).type;
        } catch {
          return undefined;
        }
      }),
    status: null,
    close: null,
    opened: false,
    waitOpen: (timeoutMs = 3000) => waitFor(() => client.opened || client.close !== null, 'raw client open', timeoutMs).then(() => {
      if (!client.opened) throw new Error(`raw client did not open: ${JSON.stringify(client.close)} status ${client.status}`);
    }),
    waitClosed: async (timeoutMs = 3000) => {
      await waitFor(() => client.close !== null, 'raw client close', timeoutMs);
      return client.close!;
    },
  };
  ws.on('open', () => {
    client.opened = true;
  });
  ws.on('message', (data, isBinary) => {
    client.messages.push(isBinary ? '<binary>' : data.toString());
  });
  ws.on('unexpected-response', (_req, res) => {
    client.status = res.statusCode ?? 0;
    res.resume();
    ws.terminate();
  });
  ws.on('error', () => {});
  ws.on('close', (code, reason) => {
    client.close = { code, reason: reason.toString() };
    open.delete(ws);
  });
  return client;
}

/** Cut every raw client still open (afterEach). */
export async function closeRawClients(): Promise<void> {
  for (const ws of open) ws.terminate();
  for (let i = 0; i < 100 && open.size > 0; i++) await sleep(5);
  open.clear();
}
