const root = process.argv[2]!;
const m = await import(`${root}/bench/sim-speed.ts`);
const sc = m.sustainedScenario();
m.runSustained(sc, m.sustainedInput(2));
const t0 = process.cpuUsage();
const r = m.runSustained(sc, m.sustainedInput(Number(process.argv[3] ?? 4)));
const u = process.cpuUsage(t0);
console.log(root, ((u.user + u.system) / 1e6).toFixed(2), 's cpu', r.wallSeconds.toFixed(2), 'wall', r.result.transitions, 'transitions');
