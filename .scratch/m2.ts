import { clientConnectionMachine } from '../machines/client-connection.ts';
import { agentRunMachine } from '../machines/agent-run.ts';
const open = clientConnectionMachine.root.states.open!;
const t = open.transitions.get('FRAME')![1]!;
for (const a of t.actions) console.log(typeof a, typeof a === 'function' ? Object.entries(a) : a);
const run = agentRunMachine.root.states.idle!;
console.log([...run.transitions.keys()], run.transitions.get('START')![0]!.actions);
console.log(clientConnectionMachine.root.states.closing!.entry);
