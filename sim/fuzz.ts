/**
 * Garbage frames for the malformed-message scenario, drawn from the world's
 * own random stream: noise, truncated frames, wrong versions, unknown types,
 * missing and mistyped fields, invalid nesting, oversized text. None of them
 * is a valid client frame, so every one must come back as a typed error.
 */
import type { Random } from './random.ts';

const VALID = [
  '{"v":1,"type":"ack","acks":{"th0":3}}',
  '{"v":1,"type":"ping","id":7}',
  '{"v":1,"type":"subscribe","thread":"th0","from":1}',
  '{"v":1,"type":"resume","epoch":"e1","positions":{"th0":2}}',
];

type Mutation = (r: Random, frame: string) => string;

const MUTATIONS: Mutation[] = [
  // noise
  (r) => Array.from({ length: r.int(1, 80) }, () => String.fromCharCode(r.int(0, 0xffff) % 0xd800)).join(''),
  // cut short: a JSON object without its closing brace is never valid
  (r, f) => f.slice(0, r.int(0, f.length - 1)),
  (_, f) => f.replace('"v":1', '"v":2'),
  (_, f) => f.replace('"v":1,', ''),
  (r, f) => f.replace(/"type":"[a-z_]+"/, `"type":"${['shout', 'Event', '', 'welcome', 'batch'][r.int(0, 4)]}"`),
  (_, f) => f.replace(/:(\d+)/, ':"$1"'),
  (_, f) => f.replace(/:(\d+)/, ':-$1'),
  (_, f) => f.replace(/:(\d+)/, ':1.5'),
  (_, f) => f.replace(/,"[a-z]+":[^,}]+\}$/, '}'),
  () => '[]',
  () => 'null',
  () => '{"v":1}',
  (r) => `{"v":1,"type":"ping","id":${r.int(0, 9)},"pad":"${'x'.repeat(3 * 1024 * 1024)}"}`,
];

/** One garbage frame; `oversized: false` leaves out the 3 MB one (a real server closes 1009 on it). */
export function fuzzFrame(random: Random, options: { oversized?: boolean } = {}): string {
  const frame = VALID[random.int(0, VALID.length - 1)]!;
  // the oversized mutation is rare: it costs megabytes
  const index = random.int(0, MUTATIONS.length * 50 - 1);
  const big = options.oversized !== false && index >= MUTATIONS.length * 50 - 1;
  const mutation = big ? MUTATIONS[MUTATIONS.length - 1]! : MUTATIONS[index % (MUTATIONS.length - 1)]!;
  const out = mutation(random, frame);
  return out === frame ? `${frame}}` : out;
}
