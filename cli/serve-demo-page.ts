/**
 * The demo page: agent runs as they arrive (started → thinking → tool calls
 * with results → completed), the connection state, counters and a "drop
 * connection" button. It uses only the browser bundle's public API, with
 * `persist: true`, so a reload resumes where the page stood.
 */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsim demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f4f6fa; }
  body { margin: 0; }
  header { display: flex; align-items: center; gap: 16px; padding: 14px 24px; background: #1d2330; color: #fff; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; font-weight: 600; }
  .state { padding: 3px 10px; border-radius: 12px; font-size: 13px; font-weight: 600; background: #888; }
  .state.open { background: #1f9d55; } .state.reconnecting, .state.connecting, .state.authenticating { background: #d69e2e; }
  .state.failed, .state.closed { background: #c53030; }
  .counters { display: flex; gap: 18px; font-size: 13px; }
  .counters b { font-size: 16px; display: block; }
  button { margin-left: auto; padding: 7px 14px; border: 0; border-radius: 6px; background: #e53e3e; color: #fff; font-weight: 600; cursor: pointer; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 14px; padding: 20px 24px; }
  .run { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 3px #0002; border-left: 4px solid #d69e2e; }
  .run.done { border-left-color: #1f9d55; }
  .run h2 { font-size: 14px; margin: 0 0 8px; display: flex; justify-content: space-between; }
  .run h2 small { color: #667; font-weight: 400; }
  ol { margin: 0; padding: 0; list-style: none; font-size: 13px; }
  li { padding: 3px 0; display: flex; gap: 8px; }
  li .t { width: 112px; flex: none; color: #556; font-family: ui-monospace, monospace; font-size: 12px; }
  li.agent_started .t, li.agent_completed .t { color: #1f6feb; } li.tool_executing .t { color: #b7791f; } li.tool_completed .t { color: #2f855a; }
  li.agent_thinking { color: #778; font-style: italic; }
  footer { padding: 0 24px 20px; font-size: 12px; color: #667; }
</style>
</head>
<body>
<header>
  <h1>wsim — live agent runs</h1>
  <span id="state" class="state">idle</span>
  <div class="counters">
    <span><b id="received">0</b>received</span>
    <span><b id="duplicates">0</b>duplicates dropped</span>
    <span><b id="resyncs">0</b>resyncs</span>
    <span><b id="reconnects">0</b>reconnects</span>
  </div>
  <button id="drop" type="button">Drop connection</button>
</header>
<main id="runs"></main>
<footer>Each run arrives exactly once and in order, through dropped connections and reloads. Publish your own with <code>POST /v1/publish</code>.</footer>
<script type="module">
import { createWsimClient } from '/wsim-client.js';
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? 'demo';
const threads = (params.get('threads') ?? 'support,research').split(',');
const $ = (id) => document.getElementById(id);
const cards = new Map();
let received = 0;
let resyncs = 0;
function card(event) {
  const key = event.thread + '/' + event.run;
  let el = cards.get(key);
  if (!el) {
    el = document.createElement('section');
    el.className = 'run';
    el.innerHTML = '<h2><span></span><small></small></h2><ol></ol>';
    el.querySelector('span').textContent = event.run;
    el.querySelector('small').textContent = 'thread ' + event.thread;
    $('runs').prepend(el);
    cards.set(key, el);
    while (cards.size > 24) { const [oldest, node] = cards.entries().next().value; node.remove(); cards.delete(oldest); }
  }
  return el;
}
function show(event) {
  const el = card(event);
  const li = document.createElement('li');
  li.className = event.type;
  const t = document.createElement('span');
  t.className = 't';
  t.textContent = event.type.replace('agent_', '').replace('tool_', 'tool ');
  const text = document.createElement('span');
  text.textContent = event.payload;
  li.append(t, text);
  el.querySelector('ol').append(li);
  if (event.type === 'agent_completed') el.classList.add('done');
}
const client = createWsimClient({
  url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws',
  token,
  threads,
  persist: true,
  onEvent(event) { received++; show(event); },
  onResync() { resyncs++; },
  onState(state) { $('state').textContent = state; $('state').className = 'state ' + state; },
}).start();
$('drop').onclick = () => client.drop();
setInterval(() => {
  const stats = client.stats();
  $('received').textContent = received;
  $('duplicates').textContent = stats.duplicates;
  $('resyncs').textContent = resyncs;
  $('reconnects').textContent = stats.reconnects;
}, 250);
</script>
</body>
</html>
`;
