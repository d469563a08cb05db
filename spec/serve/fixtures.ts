/** Shared by the serve specs: an in-process `wsim serve`, HTTP calls with the publish secret, and agent-run events. */
import { startServe, type ServeOptions, type Serving } from '../../cli/serve-start.ts';

export const SECRET = 'serve-spec-secret';

export const TOKENS = {
  'ada-token': { tenant: 'acme', user: 'ada', role: 'viewer' as const, threads: '*' as const },
};

export function serve(options: Partial<ServeOptions> = {}): Promise<Serving> {
  return startServe({ host: '127.0.0.1', port: 0, tokens: TOKENS, demo: false, publishSecret: SECRET, ...options });
}

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the server, checked field by field
}

export async function post(serving: Serving, path: string, body: unknown, secret: string | null = SECRET): Promise<Answer> {
  const res = await fetch(`${serving.url}${path}`, {
    method: 'POST',
    headers: secret === null ? {} : { authorization: `Bearer ${secret}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Event `idx` of a legal run: started, a tool call, completed. */
export function event(run: string, idx: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const steps = [{ type: 'agent_started' }, { type: 'tool_executing', toolId: 'x' }, { type: 'tool_completed', toolId: 'x', payload: 'ok' }, { type: 'agent_completed' }];
  return { tenant: 'acme', user: 'ada', thread: 'th1', run, idx, ...steps[idx], ...extra };
}
