/**
 * The codec: every valid frame round-trips; everything else is refused with
 * the right typed code, and decode never throws.
 *
 * The expected codes come from this file's own table of the wire contract
 * (FIELDS below), written from frames.ts, not from the codec's tables.
 */

import { isUtf8 } from 'node:buffer';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  decode,
  decodeClientFrame,
  decodeServerFrame,
  encode,
  errorFrame,
  type DecodeError,
  type Decoded,
  type Frame,
} from '../../machines/protocol.ts';
import { FRAME_ARBS, batchArb, clientFrameArb, frameArb, runParams, serverFrameArb } from './frame-arbitraries.ts';

// ---- the contract, restated independently ----------------------------------

type Kind = 'string' | 'nat' | 'pos' | 'bool' | 'natMap' | 'posMap' | 'event' | 'enum' | 'frames';

/** Required fields of each frame type (beyond v and type) and what they hold. */
const FIELDS: Record<Frame['type'], Record<string, Kind>> = {
  hello: { token: 'string' },
  subscribe: { thread: 'string', from: 'pos' },
  unsubscribe: { thread: 'string' },
  resume: { epoch: 'string', positions: 'posMap' },
  ack: { acks: 'natMap' },
  ping: { id: 'nat' },
  error: { code: 'enum', message: 'string' },
  welcome: { session: 'string', epoch: 'string' },
  subscribed: { thread: 'string', epoch: 'string', from: 'pos', recovered: 'bool' },
  resync_required: { thread: 'string', epoch: 'string', from: 'pos', reason: 'enum' },
  event: { thread: 'string', seq: 'nat' },
  chunk: { thread: 'string', seq: 'nat', index: 'nat', count: 'pos', hash: 'string', data: 'string' },
  pong: { id: 'nat' },
  batch: { frames: 'frames' },
};

const AGENT_EVENT_FIELDS: Record<string, Kind> = {
  tenant: 'string', user: 'string', thread: 'string', run: 'string', idx: 'nat', type: 'enum', sensitivity: 'enum', payload: 'string', hash: 'string',
};

/** JSON values that are not of the kind. */
const WRONG: Record<Kind, unknown[]> = {
  string: [42, null, true, {}, ['x']],
  nat: ['1', -1, 1.5, null, true, 2 ** 60],
  pos: [0, '1', -3, 2.5, null],
  bool: ['true', 1, null, 0],
  natMap: ['x', [], null, 5, { k: -1 }, { k: 'one' }, { k: 0.5 }],
  posMap: ['x', [], null, { k: 0 }, { k: 'one' }],
  event: ['x', [], null, 7],
  enum: ['nope', 3, null, ''],
  frames: [{}, 'x', null, 3],
};

const CLIENT_TYPES = ['hello', 'subscribe', 'unsubscribe', 'resume', 'ack', 'ping', 'error'];
const SERVER_TYPES = ['welcome', 'subscribed', 'resync_required', 'event', 'chunk', 'pong', 'batch', 'error'];
const ALL_TYPES = Object.keys(FIELDS);
const DECODE_CODES = ['malformed_json', 'unknown_type', 'bad_field', 'too_large', 'unsupported_version'];

type Expected = { code: DecodeError['code']; field?: string };
type Case = { input: string | Uint8Array; expected: Expected; maxBytes?: number; label: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** What the top of a parsed JSON value must produce, or undefined when only field checks can tell. */
function expectedTop(value: unknown): Expected | undefined {
  if (!isObj(value)) return { code: 'malformed_json' };
  if (!Object.hasOwn(value, 'v') || typeof value.v !== 'number') return { code: 'bad_field', field: 'v' };
  if (value.v !== 1) return { code: 'unsupported_version', field: 'v' };
  if (!Object.hasOwn(value, 'type') || typeof value.type !== 'string') return { code: 'bad_field', field: 'type' };
  if (!ALL_TYPES.includes(value.type)) return { code: 'unknown_type', field: 'type' };
  return undefined;
}

/**
 * Codes possible once v and type passed: field errors, and inside a batch
 * whatever a nested frame's own header can produce.
 */
function fieldLevelCodes(value: unknown): string[] {
  return isObj(value) && value.type === 'batch' ? ['bad_field', 'unknown_type', 'unsupported_version'] : ['bad_field'];
}

/** Decode, turning a throw into a test failure with the input in view. */
function safeDecode(fn: (i: string | Uint8Array, o?: { maxBytes?: number }) => Decoded<Frame>, input: string | Uint8Array, maxBytes?: number): Decoded<Frame> {
  try {
    return maxBytes === undefined ? fn(input) : fn(input, { maxBytes });
  } catch (e) {
    throw new Error(`decode threw on ${JSON.stringify(typeof input === 'string' ? input.slice(0, 200) : [...input.slice(0, 50)])}: ${String(e)}`);
  }
}

function expectRefused(result: Decoded<Frame>, expected: Expected, label: string): void {
  expect(result.ok, `${label}: should be refused`).to.equal(false);
  if (result.ok) return;
  expect(result.error.code, `${label}: ${result.error.message}`).to.equal(expected.code);
  if (expected.field !== undefined) expect(result.error.field, label).to.equal(expected.field);
  expect(result.error.message).to.be.a('string').and.not.equal('');
}

// ---- mutation cases --------------------------------------------------------

const typeArb = fc.constantFrom(...(ALL_TYPES as Frame['type'][]));
const frameOfType = (type: Frame['type']) => FRAME_ARBS[type];

/** A required field removed → bad_field naming it. */
const dropFieldCase: fc.Arbitrary<Case> = typeArb.chain((type) =>
  fc.tuple(frameOfType(type), fc.constantFrom(...Object.keys(FIELDS[type]))).map(([frame, field]) => {
    const o = clone(frame) as unknown as Record<string, unknown>;
    delete o[field];
    return { input: JSON.stringify(o), expected: { code: 'bad_field', field }, label: `drop ${type}.${field}` } satisfies Case;
  }),
);

/** A required field of the wrong JS type or out of range → bad_field naming it. */
const wrongFieldCase: fc.Arbitrary<Case> = typeArb.chain((type) =>
  fc.constantFrom(...Object.entries(FIELDS[type])).chain(([field, kind]) =>
    fc.tuple(frameOfType(type), fc.constantFrom(...WRONG[kind])).map(([frame, value]) => {
      const o = clone(frame) as unknown as Record<string, unknown>;
      o[field] = value;
      // A map's bad value is reported at its key; a batch's bad item at its index.
      const at = kind.endsWith('Map') && isObj(value) ? `${field}.k` : field;
      return { input: JSON.stringify(o), expected: { code: 'bad_field', field: at }, label: `${type}.${field} = ${JSON.stringify(value)}` } satisfies Case;
    }),
  ),
);

/** A field of the agent event broken → bad_field 'event.<field>'. */
const eventFieldCase: fc.Arbitrary<Case> = fc
  .tuple(FRAME_ARBS.event, fc.constantFrom(...Object.entries(AGENT_EVENT_FIELDS)), fc.boolean(), fc.nat())
  .filter(([frame]) => (frame as { event?: unknown }).event !== undefined)
  .map(([frame, [field, kind], drop, pick]) => {
    const o = clone(frame) as unknown as { event: Record<string, unknown> };
    const wrong = WRONG[kind];
    if (drop) delete o.event[field];
    else o.event[field] = wrong[pick % wrong.length];
    return { input: JSON.stringify(o), expected: { code: 'bad_field', field: `event.${field}` }, label: `event.${field} broken` };
  });

/** Optional fields present with a wrong value are refused too. */
const optionalFieldCase: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(
      ['subscribe', 'epoch', 7],
      ['error', 'field', null],
      ['event', 'through', -1],
      ['event', 'event', null],
    ),
    fc.nat(),
  )
  .chain(([[type, field, value]]) =>
    frameOfType(type as Frame['type']).map((frame) => {
      const o = clone(frame) as unknown as Record<string, unknown>;
      o[field as string] = value;
      return { input: JSON.stringify(o), expected: { code: 'bad_field' as const, field: field as string }, label: `optional ${type}.${field}` };
    }),
  );

/** Fields that relate: chunk index < count, event through >= seq. */
const relationCase: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(FRAME_ARBS.chunk, fc.nat({ max: 5 })).map(([frame, extra]) => {
    const o = clone(frame) as unknown as Record<string, number>;
    o.index = (o.count as number) + extra;
    return { input: JSON.stringify(o), expected: { code: 'bad_field' as const, field: 'index' }, label: 'chunk index >= count' };
  }),
  fc.tuple(FRAME_ARBS.event, fc.integer({ min: 1, max: 1000 })).map(([frame, back]) => {
    const o = { ...clone(frame), seq: 5000, through: 5000 - back };
    return { input: JSON.stringify(o), expected: { code: 'bad_field' as const, field: 'through' }, label: 'event through < seq' };
  }),
);

/** v and type: version before type, type before fields. */
const headerCase: fc.Arbitrary<Case> = fc.tuple(frameArb, fc.nat({ max: 5 }), fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), fc.string()).map(([frame, kind, num, str]) => {
  const o = clone(frame) as unknown as Record<string, unknown>;
  switch (kind) {
    case 0:
      o.v = num === 1 ? 2 : num;
      return { input: JSON.stringify(o), expected: { code: 'unsupported_version' as const, field: 'v' }, label: `v=${num}` };
    case 1:
      delete o.v;
      return { input: JSON.stringify(o), expected: { code: 'bad_field' as const, field: 'v' }, label: 'no v' };
    case 2:
      o.v = '1';
      return { input: JSON.stringify(o), expected: { code: 'bad_field' as const, field: 'v' }, label: 'v as string' };
    case 3:
      o.type = ALL_TYPES.includes(str) ? `${str}_x` : str;
      return { input: JSON.stringify(o), expected: { code: 'unknown_type' as const, field: 'type' }, label: `type=${str}` };
    case 4:
      o.type = num;
      return { input: JSON.stringify(o), expected: { code: 'bad_field' as const, field: 'type' }, label: 'numeric type' };
    default:
      delete o.type;
      return { input: JSON.stringify(o), expected: { code: 'bad_field' as const, field: 'type' }, label: 'no type' };
  }
});

/** Too large (string or bytes), or cut short (never valid JSON for an object). */
const sizeCase: fc.Arbitrary<Case> = fc.tuple(frameArb, fc.double({ min: 0, max: 0.999, noNaN: true }), fc.boolean(), fc.boolean()).map(([frame, r, bytes, cut]) => {
  const text = encode(frame);
  const input = bytes ? new TextEncoder().encode(text) : text;
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (cut) {
    const prefix = text.slice(0, Math.floor(text.length * r));
    return { input: prefix, expected: { code: 'malformed_json' as const }, label: `truncated to ${prefix.length}` };
  }
  return { input, maxBytes: Math.floor(size * r), expected: { code: 'too_large' as const }, label: `size ${size} over ${Math.floor(size * r)}` };
});

/** Errors inside a batch are reported with their index; batches do not nest. */
const batchCase: fc.Arbitrary<Case> = fc.tuple(batchArb, fc.nat(), fc.boolean()).chain(([batch, pick, nest]) => {
  const serverOnly = ['welcome', 'subscribed', 'resync_required', 'event', 'chunk', 'pong'] as const;
  return fc.constantFrom(...serverOnly).chain((type) =>
    fc.tuple(frameOfType(type), fc.constantFrom(...Object.keys(FIELDS[type]))).map(([inner, field]) => {
      const frames = clone(batch.frames) as unknown[];
      const at = frames.length === 0 ? 0 : pick % (frames.length + 1);
      if (nest) {
        frames.splice(at, 0, { v: 1, type: 'batch', frames: [] });
        return { input: JSON.stringify({ v: 1, type: 'batch', frames }), expected: { code: 'unknown_type' as const, field: `frames[${at}].type` }, label: 'nested batch' };
      }
      const broken = clone(inner) as unknown as Record<string, unknown>;
      delete broken[field];
      frames.splice(at, 0, broken);
      return { input: JSON.stringify({ v: 1, type: 'batch', frames }), expected: { code: 'bad_field' as const, field: `frames[${at}].${field}` }, label: `batch item ${type}.${field}` };
    }),
  );
});

const mutationCase: fc.Arbitrary<Case> = fc.oneof(dropFieldCase, wrongFieldCase, eventFieldCase, optionalFieldCase, relationCase, headerCase, sizeCase, batchCase);

// ---- specs -----------------------------------------------------------------

describe('machines/protocol codec', () => {
  describe('round trip: decode(encode(f)) deep-equals f', () => {
    for (const [type, arb] of Object.entries(FRAME_ARBS)) {
      it(`every generated '${type}' frame, as text and as UTF-8 bytes`, () => {
        fc.assert(
          fc.property(arb, (frame) => {
            const text = encode(frame);
            for (const input of [text, new TextEncoder().encode(text)]) {
              const result = decode(input, { maxBytes: Number.POSITIVE_INFINITY });
              expect(result.ok, result.ok ? '' : result.error.message).to.equal(true);
              if (result.ok) expect(result.frame).to.deep.equal(frame);
            }
          }),
          runParams(250),
        );
      });
    }

    it('the direction decoders accept their own direction, unknown extra fields included', () => {
      fc.assert(
        fc.property(fc.oneof(clientFrameArb.map((f) => ['client', f] as const), serverFrameArb.map((f) => ['server', f] as const)), fc.jsonValue(), ([side, frame], extra) => {
          const withExtra = { ...clone(frame), x_future_field: extra };
          const result = side === 'client' ? decodeClientFrame(JSON.stringify(withExtra)) : decodeServerFrame(JSON.stringify(withExtra));
          expect(result.ok, result.ok ? '' : result.error.message).to.equal(true);
          if (result.ok) expect(result.frame).to.deep.equal(clone(withExtra));
        }),
        runParams(500),
      );
    });
  });

  describe('fuzz: never throws, refuses with the right typed code', () => {
    it('arbitrary strings', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json(), fc.string({ unit: fc.constantFrom('{', '}', '"', ':', ',', '[', ']', 'v', '1', 'type') })), (text) => {
          const result = safeDecode(decode, text);
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            return expectRefused(result, { code: 'malformed_json' }, 'invalid JSON');
          }
          const expected = expectedTop(parsed);
          if (expected) return expectRefused(result, expected, text.slice(0, 80));
          if (!result.ok) expect(result.error.code).to.be.oneOf(fieldLevelCodes(parsed));
        }),
        runParams(2500),
      );
    });

    it('frame-shaped JSON objects with random fields', () => {
      const anyField = fc.constantFrom(...new Set(Object.values(FIELDS).flatMap((f) => Object.keys(f))));
      const shaped = fc.record(
        {
          v: fc.oneof(fc.constant(1), fc.constant(1), fc.jsonValue()),
          type: fc.oneof(fc.constantFrom(...ALL_TYPES), fc.jsonValue()),
          fields: fc.dictionary(anyField, fc.oneof(fc.jsonValue(), fc.nat(), fc.string()), { noNullPrototype: true }),
        },
        { requiredKeys: ['fields'] },
      );
      fc.assert(
        fc.property(shaped, ({ fields, ...head }) => {
          const value = { ...fields, ...head };
          const text = JSON.stringify(value);
          const result = safeDecode(decode, text);
          const expected = expectedTop(clone(value));
          if (expected) return expectRefused(result, expected, text.slice(0, 80));
          if (!result.ok) {
            expect(result.error.code).to.be.oneOf(fieldLevelCodes(value));
            return;
          }
          // Accepted: then every required field of its type is there.
          for (const field of Object.keys(FIELDS[result.frame.type])) expect(result.frame).to.have.property(field);
        }),
        runParams(2500),
      );
    });

    it('arbitrary bytes, invalid UTF-8 included', () => {
      const corrupted = fc.tuple(frameArb, fc.nat(), fc.integer({ min: 0x80, max: 0xff })).map(([frame, at, byte]) => {
        const bytes = new TextEncoder().encode(encode(frame));
        bytes[at % bytes.length] = byte;
        return bytes;
      });
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), corrupted), (bytes) => {
          const result = safeDecode(decode, bytes);
          if (!isUtf8(bytes)) {
            expectRefused(result, { code: 'malformed_json' }, 'invalid UTF-8');
            if (!result.ok) expect(result.error.message).to.match(/UTF-8/);
            return;
          }
          const text = Buffer.from(bytes).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            return expectRefused(result, { code: 'malformed_json' }, 'invalid JSON');
          }
          const expected = expectedTop(parsed);
          if (expected) return expectRefused(result, expected, text.slice(0, 80));
          if (!result.ok) expect(result.error.code).to.be.oneOf(fieldLevelCodes(parsed));
        }),
        runParams(2500),
      );
    });

    it('mutations of valid frames: dropped field, wrong type, range, bad version, unknown type, oversized, truncated, batch items', () => {
      fc.assert(
        fc.property(mutationCase, ({ input, expected, maxBytes, label }) => {
          expectRefused(safeDecode(decode, input, maxBytes), expected, label);
        }),
        runParams(4000),
      );
    });
  });

  describe('direction', () => {
    it('decodeClientFrame refuses every server-only frame as unknown_type', () => {
      fc.assert(
        fc.property(serverFrameArb.filter((f) => f.type !== 'error'), (frame) => {
          expectRefused(safeDecode(decodeClientFrame, encode(frame)), { code: 'unknown_type', field: 'type' }, frame.type);
        }),
        runParams(300),
      );
    });

    it('decodeServerFrame refuses every client-only frame as unknown_type', () => {
      fc.assert(
        fc.property(clientFrameArb.filter((f) => f.type !== 'error'), (frame) => {
          expectRefused(safeDecode(decodeServerFrame, encode(frame)), { code: 'unknown_type', field: 'type' }, frame.type);
        }),
        runParams(300),
      );
    });

    it('error frames travel both ways, and a batch may not carry a client frame', () => {
      const err = encode({ v: 1, type: 'error', code: 'forbidden', message: 'no' });
      expect(decodeClientFrame(err).ok).to.equal(true);
      expect(decodeServerFrame(err).ok).to.equal(true);
      for (const type of CLIENT_TYPES.filter((t) => t !== 'error')) expect(SERVER_TYPES).not.to.include(type);
      const withHello = JSON.stringify({ v: 1, type: 'batch', frames: [{ v: 1, type: 'pong', id: 1 }, { v: 1, type: 'hello', token: 't' }] });
      expectRefused(decodeServerFrame(withHello), { code: 'unknown_type', field: 'frames[1].type' }, 'hello in batch');
    });
  });

  describe('one example per error code', () => {
    const example = (input: string | Uint8Array, code: string, field?: string, maxBytes?: number) => {
      const result = maxBytes === undefined ? decode(input) : decode(input, { maxBytes });
      expectRefused(result, field === undefined ? { code: code as DecodeError['code'] } : { code: code as DecodeError['code'], field }, String(input).slice(0, 60));
    };

    it('malformed_json: broken JSON, invalid UTF-8, and JSON that is not an object', () => {
      example('{"v":1,', 'malformed_json');
      example(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'malformed_json');
      example(new Uint8Array([0xed, 0xa0, 0x80]), 'malformed_json'); // an encoded surrogate: not UTF-8
      for (const notObject of ['42', '[]', 'null', '"hello"', 'true']) example(notObject, 'malformed_json');
    });

    it('unknown_type', () => {
      example('{"v":1,"type":"teleport"}', 'unknown_type', 'type');
      example('{"v":1,"type":"__proto__"}', 'unknown_type', 'type');
      example('{"v":1,"type":"toString"}', 'unknown_type', 'type');
    });

    it('bad_field names the field path', () => {
      example('{"v":1,"type":"event","thread":"t"}', 'bad_field', 'seq');
      example('{"v":1,"type":"event","thread":"t","seq":1,"event":{"tenant":"a","user":"u","thread":"t","run":"r","idx":-1,"type":"agent_started","sensitivity":"public","payload":"","hash":"h"}}', 'bad_field', 'event.idx');
      example('{"v":1,"type":"ack","acks":{"t0":3,"t1":"3"}}', 'bad_field', 'acks.t1');
      example('{"v":1,"type":"batch","frames":[{"v":1,"type":"pong","id":1},{"v":1,"type":"pong","id":2},{"v":1,"type":"event","thread":"t","seq":-4}]}', 'bad_field', 'frames[2].seq');
      example('{"v":1,"type":"subscribe","thread":"t","from":0}', 'bad_field', 'from');
      example('{"v":1,"type":"chunk","thread":"t","seq":1,"index":2,"count":2,"hash":"h","data":""}', 'bad_field', 'index');
      example('{"type":"hello","token":"x"}', 'bad_field', 'v');
      example('{"v":"1","type":"hello","token":"x"}', 'bad_field', 'v');
    });

    it('too_large: checked before parsing, default limit 2 MB', () => {
      example('x'.repeat(DEFAULT_MAX_MESSAGE_BYTES + 1), 'too_large');
      example(new Uint8Array(DEFAULT_MAX_MESSAGE_BYTES + 1), 'too_large');
      example('{"v":1,"type":"ping","id":1}', 'too_large', undefined, 10);
      expect(decode('{"v":1,"type":"ping","id":1}', { maxBytes: 28 }).ok).to.equal(true);
    });

    it('unsupported_version', () => {
      example('{"v":2,"type":"hello","token":"x"}', 'unsupported_version', 'v');
      example('{"v":0,"type":"teleport"}', 'unsupported_version', 'v');
    });

    it('errorFrame turns any decode error into a frame both sides accept', () => {
      for (const bad of ['{', '{"v":9}', '{"v":1,"type":"nope"}', '{"v":1,"type":"ack","acks":{"a":-1}}']) {
        const result = decode(bad);
        expect(result.ok).to.equal(false);
        if (result.ok) continue;
        const frame = errorFrame(result.error);
        expect(frame).to.include({ v: 1, type: 'error', code: result.error.code, message: result.error.message });
        expect(frame.field).to.equal(result.error.field);
        expect(DECODE_CODES).to.include(frame.code);
        expect(decodeClientFrame(encode(frame))).to.deep.equal({ ok: true, frame });
        expect(decodeServerFrame(encode(frame))).to.deep.equal({ ok: true, frame });
      }
      expect(errorFrame({ code: 'forbidden', message: 'no' })).to.deep.equal({ v: 1, type: 'error', code: 'forbidden', message: 'no' });
    });
  });
});
