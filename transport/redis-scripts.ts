/**
 * The Redis side of the store contract (machines/store.ts), as Lua scripts:
 * Redis runs a script alone, so each command is atomic across every node,
 * exactly as `StoreData` is in one process.
 *
 * Keys (prefix `P`, names URI-encoded):
 * - `P:epoch`: the store's epoch. A Redis that lost its data has none; the
 *   first script that runs then sets the caller's candidate and publishes an
 *   `epoch` notice, so every node learns of the loss at once.
 * - `P:s:<tenant>:<user>:<thread>:meta`: a hash {epoch, head}: the stream's
 *   epoch and last seq. HINCRBY assigns the seq.
 * - `...:log`: a Redis Stream capped with an exact MAXLEN; entry id `<seq>-0`,
 *   so XRANGE reads from a position directly; field `e` is the event as JSON.
 * - `...:ids`: a sorted set (run, idx) → seq for idempotent append, trimmed
 *   with the log so it stays as long as the window.
 * - channel `P:notify`: JSON notices, published by the script itself, so a
 *   notice is sent only after its append is stored.
 *
 * A stream whose meta names another epoch dates from before a loss: it is
 * reset and starts again at 1. A stream whose log or ids outlived its meta
 * (a key evicted under memory pressure) lost history within the epoch: that
 * starts a new epoch, so clients hear `epoch_changed` rather than nothing.
 * Redis must still run with `maxmemory-policy noeviction` (`checkRedis`
 * refuses any other policy): a stream evicted whole cannot be told from one
 * that never existed, and an evicted id set loses idempotency.
 */

/** KEYS: epoch, meta, log, ids. ARGV[1]: candidate epoch, ARGV[2]: channel. */
const PRELUDE = `
local function new_epoch()
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[2], cjson.encode({kind = 'epoch', epoch = ARGV[1]}))
  return ARGV[1]
end
local function store_epoch()
  return redis.call('GET', KEYS[1]) or new_epoch()
end
local function stream_epoch()
  local epoch = store_epoch()
  local written = redis.call('HGET', KEYS[2], 'epoch')
  if written == epoch then return epoch end
  -- part of the stream outlived its meta: history was lost within this epoch, and only a new epoch says so
  if not written and redis.call('EXISTS', KEYS[3], KEYS[4]) > 0 then epoch = new_epoch() end
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  return epoch
end
`;

/** → epoch. */
export const EPOCH_SCRIPT = `${PRELUDE}
return store_epoch()`;

/** ARGV[3]: capacity, ARGV[4]: (run, idx) key, ARGV[5]: event JSON, ARGV[6]: stream JSON. → {epoch, seq, duplicate 0|1}. */
export const APPEND_SCRIPT = `${PRELUDE}
local epoch = stream_epoch()
local known = redis.call('ZSCORE', KEYS[4], ARGV[4])
if known then return {epoch, tonumber(known), 1} end
redis.call('HSET', KEYS[2], 'epoch', epoch)
local seq = redis.call('HINCRBY', KEYS[2], 'head', 1)
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[3], seq .. '-0', 'e', ARGV[5])
redis.call('ZADD', KEYS[4], seq, ARGV[4])
local start = seq - redis.call('XLEN', KEYS[3]) + 1
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. start)
redis.call('PUBLISH', ARGV[2], '{"kind":"appended","stream":' .. ARGV[6] .. ',"epoch":' .. cjson.encode(epoch) .. ',"seq":' .. seq .. '}')
return {epoch, seq, 0}`;

/** ARGV[3]: from, ARGV[4]: max. → {epoch, start, head, [[id, [field, value]], ...]}. */
export const READ_SCRIPT = `${PRELUDE}
local epoch = stream_epoch()
local head = tonumber(redis.call('HGET', KEYS[2], 'head') or '0')
local start = head - redis.call('XLEN', KEYS[3]) + 1
local from = math.max(tonumber(ARGV[3]), start)
local max = tonumber(ARGV[4])
local entries = {}
if max > 0 and from <= head then entries = redis.call('XRANGE', KEYS[3], from .. '-0', '+', 'COUNT', max) end
return {epoch, start, head, entries}`;
