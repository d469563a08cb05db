/**
 * The server's side of PROTOCOL.md, one requirement per test (its id in the
 * title): a real server session on a simulated clock, judged by the frames it
 * writes and the codes it closes with.
 */
import { expect } from 'chai';
import type { AgentEvent } from '../../machines/frames.ts';
import { payloadHash } from '../../machines/hash.ts';
import { REDACTED } from '../../machines/policy.ts';
import { DEFAULT_SESSION_CONFIG } from '../../machines/server-session.ts';
import { SessionWorld, TENANT, USER, VIEWER } from './session-world.ts';

const cfg = DEFAULT_SESSION_CONFIG;

describe('protocol: server rules of PROTOCOL.md', function () {
  it('WS-HELLO-1: nothing is written before the hello; a valid hello is answered by welcome{session, epoch} first', () => {
    const w = new SessionWorld({ epoch: 'e7' });
    w.scheduler.runUntil(cfg.authTimeoutMs - 1);
    expect(w.port.messages).to.deep.equal([]);
    w.hello();
    const frames = w.port.frames();
    expect(frames).to.have.length(1);
    // the session name is the server's to choose: only its type is the protocol's
    expect(frames[0]).to.deep.include({ v: 1, type: 'welcome', epoch: 'e7' });
    expect(frames[0]).to.have.property('session').that.is.a('string');
  });

  it('WS-HELLO-2: without a hello the session closes 4401 "no hello" at authTimeoutMs, not before', () => {
    const w = new SessionWorld();
    w.scheduler.runUntil(cfg.authTimeoutMs - 1);
    expect(w.port.closes).to.deep.equal([]);
    w.scheduler.runUntil(cfg.authTimeoutMs);
    expect(w.port.closes).to.deep.equal([{ code: 4401, reason: 'no hello' }]);
    expect(w.done).to.equal(true);
  });

  it('WS-HELLO-3: before the welcome a valid non-hello frame gets error not_authenticated, garbage its decode code; the connection stays', () => {
    const w = new SessionWorld();
    w.send({ v: 1, type: 'subscribe', thread: 't1', from: 1 });
    w.send({ v: 1, type: 'ping', id: 1 });
    w.message('{"v":1,"type":"shout"}');
    expect(w.port.frames().map((f) => (f.type === 'error' ? f.code : f.type))).to.deep.equal(['not_authenticated', 'not_authenticated', 'unknown_type']);
    expect(w.port.closes).to.deep.equal([]);
    w.hello();
    expect(w.port.frames().at(-1)?.type).to.equal('welcome');
    // and nothing was subscribed by the refused frame
    const mark = w.mark;
    w.publish('t1', 1);
    expect(w.port.messages.length).to.equal(mark);
  });

  it('WS-HELLO-6: a second hello is answered not_authenticated and changes nothing (the role stays, the stream goes on)', () => {
    const w = new SessionWorld();
    w.open(['t1']);
    const mark = w.mark;
    w.hello(VIEWER); // a viewer's token: it must not change the admin's session
    expect(w.port.frames(mark).map((f) => (f.type === 'error' ? f.code : f.type))).to.deep.equal(['not_authenticated']);
    const [event] = w.publish('t1', 1, 'agent_thinking', 'restricted');
    const sent = w.port.events(mark);
    expect(sent.map((f) => f.event)).to.deep.equal([event]);
    expect(w.port.closes).to.deep.equal([]);
  });

  it('WS-SUB-1: a first subscribe is answered subscribed{recovered: false}, then the history from `from`, then new events', () => {
    const w = new SessionWorld();
    w.publish('t1', 3);
    w.hello();
    const mark = w.mark;
    w.send({ v: 1, type: 'subscribe', thread: 't1', from: 2 });
    const frames = w.port.frames(mark);
    expect(frames[0]).to.deep.equal({ v: 1, type: 'subscribed', thread: 't1', epoch: 'e1', from: 2, recovered: false });
    expect(frames.slice(1).map((f) => (f.type === 'event' ? f.seq : f.type))).to.deep.equal([2, 3]);
    w.publish('t1', 2);
    expect(w.seqs(mark)).to.deep.equal([2, 3, 4, 5]);
  });

  it('WS-SUB-3: a subscribe or a resume naming a thread the token does not grant closes 4403 "thread not allowed"', () => {
    const a = new SessionWorld();
    a.hello();
    a.send({ v: 1, type: 'subscribe', thread: 't3', from: 1 });
    expect(a.port.closes).to.deep.equal([{ code: 4403, reason: 'thread not allowed' }]);
    expect(a.done).to.equal(true);
    const b = new SessionWorld();
    b.hello();
    b.send({ v: 1, type: 'resume', epoch: 'e1', positions: { t1: 1, t9: 1 } });
    expect(b.port.closes).to.deep.equal([{ code: 4403, reason: 'thread not allowed' }]);
    expect(b.done).to.equal(true);
    // no stream of the refused request was opened
    expect(b.port.control().filter((f) => f.type === 'subscribed')).to.deep.equal([]);
  });

  it('WS-SUB-4: unsubscribe is not answered, and the stream sends nothing more', () => {
    const w = new SessionWorld();
    w.open(['t1', 't2']);
    w.publish('t1', 1);
    const mark = w.mark;
    w.send({ v: 1, type: 'unsubscribe', thread: 't1' });
    expect(w.port.messages.length).to.equal(mark);
    w.publish('t1', 2);
    w.publish('t2', 1);
    expect(w.seqs(mark, 't1')).to.deep.equal([]);
    expect(w.seqs(mark, 't2')).to.deep.equal([1]);
  });

  it('WS-SUB-5: a repeated subscribe restarts the stream at the new position (answered again, the rest resent)', () => {
    const w = new SessionWorld();
    w.open(['t1']);
    w.publish('t1', 3);
    const mark = w.mark;
    w.send({ v: 1, type: 'subscribe', thread: 't1', from: 2 });
    const frames = w.port.frames(mark);
    expect(frames[0]).to.deep.equal({ v: 1, type: 'subscribed', thread: 't1', epoch: 'e1', from: 2, recovered: false });
    expect(w.seqs(mark)).to.deep.equal([2, 3]);
  });

  it('WS-RESUME-4: a restarted server answers a subscribe from 1 without epoch with resync_required epoch_changed', () => {
    const w = new SessionWorld({ restarted: true, epoch: 'e2', capacity: 3 });
    w.publish('t1', 5); // the new epoch's log holds 3..5
    w.hello();
    const mark = w.mark;
    w.send({ v: 1, type: 'subscribe', thread: 't1', from: 1 });
    expect(w.port.control(mark)).to.deep.equal([{ v: 1, type: 'resync_required', thread: 't1', epoch: 'e2', from: 3, reason: 'epoch_changed' }]);
    // one that names the current epoch is served as asked
    const again = w.mark;
    w.send({ v: 1, type: 'subscribe', thread: 't2', from: 1, epoch: 'e2' });
    expect(w.port.control(again)).to.deep.equal([{ v: 1, type: 'subscribed', thread: 't2', epoch: 'e2', from: 1, recovered: true }]);
  });

  it('WS-DELIVER-5: no more than windowFrames sequences are in flight; acks open the window', () => {
    const w = new SessionWorld({ config: { windowFrames: 3 } });
    w.open(['t1', 't2']);
    w.publish('t1', 4);
    w.publish('t2', 4);
    expect(w.seqs(0, 't1').length + w.seqs(0, 't2').length).to.equal(3);
    const mark = w.mark;
    w.send({ v: 1, type: 'ack', acks: { t1: 2 } });
    expect(w.port.events(mark)).to.have.length(2);
  });

  it('WS-ACK-3: an ack is clamped to what was sent; one not above the last, or for an unknown stream, changes nothing', () => {
    const w = new SessionWorld({ config: { rtoMs: 100, rtoCapMs: 100 } });
    w.open(['t1']);
    w.publish('t1', 3);
    w.send({ v: 1, type: 'ack', acks: { t1: 99 } }); // clamped to 3
    w.publish('t1', 2); // 4 and 5 in flight
    w.send({ v: 1, type: 'ack', acks: { t1: 3, nope: 10 } });
    const mark = w.mark;
    w.scheduler.runUntil(w.scheduler.now + 100);
    // the retransmission is exactly what is unacknowledged: 4 and 5
    expect(w.seqs(mark)).to.deep.equal([4, 5]);
  });

  it('WS-RETX-2: no retransmission while the link pushes back; the drain resumes sending', () => {
    const w = new SessionWorld({ config: { rtoMs: 100, rtoCapMs: 100, maxRetransmits: 2 } });
    w.open(['t1']);
    w.port.congested = true;
    w.publish('t1', 2); // written, answered 'backpressure': blocked
    expect(w.session.getSnapshot().matches({ open: { outbox: 'blocked' } })).to.equal(true);
    const mark = w.mark;
    w.publish('t1', 1); // nothing new while blocked
    w.scheduler.runUntil(w.scheduler.now + 1000);
    expect(w.port.messages.length).to.equal(mark);
    expect(w.port.closes).to.deep.equal([]);
    w.port.congested = false;
    w.drain();
    expect(w.seqs(mark)).to.deep.equal([3]);
  });

  it('WS-RESYNC-2: after a resync every event frame repeats it until the client acks the resync point', () => {
    const w = new SessionWorld({ capacity: 3, config: { rtoMs: 100, rtoCapMs: 100 } });
    w.publish('t1', 5); // the log holds 3..5
    w.hello();
    w.send({ v: 1, type: 'subscribe', thread: 't1', from: 1 });
    const resync = { from: 3, reason: 'beyond_window' };
    expect(w.port.events().map((f) => [f.seq, f.resync])).to.deep.equal([[3, resync], [4, resync], [5, resync]]);
    // retransmissions repeat it too
    let mark = w.mark;
    w.scheduler.runUntil(w.scheduler.now + 100);
    expect(w.port.events(mark).map((f) => [f.seq, f.resync])).to.deep.equal([[3, resync], [4, resync], [5, resync]]);
    // once 3 is acknowledged, no frame carries it
    w.send({ v: 1, type: 'ack', acks: { t1: 3 } });
    mark = w.mark;
    w.publish('t1', 1);
    w.scheduler.runUntil(w.scheduler.now + 100);
    const after = w.port.events(mark);
    expect(after.map((f) => f.seq)).to.include.members([4, 5, 6]);
    expect(after.filter((f) => f.resync !== undefined)).to.deep.equal([]);
  });

  it('WS-RESYNC-5: sequences dropped from the log before they were sent are announced by resync_required beyond_window', () => {
    const w = new SessionWorld({ capacity: 3, config: { windowFrames: 1 } });
    w.open(['t1']);
    w.publish('t1', 1); // seq 1 in flight: the window is full
    w.publish('t1', 5); // 2..6: the log keeps 4..6
    const mark = w.mark;
    w.send({ v: 1, type: 'ack', acks: { t1: 1 } });
    const frames = w.port.frames(mark);
    expect(frames[0]).to.deep.equal({ v: 1, type: 'resync_required', thread: 't1', epoch: 'e1', from: 4, reason: 'beyond_window' });
    expect(frames.slice(1).map((f) => (f.type === 'event' ? f.seq : f.type))).to.deep.equal([4]);
  });

  it('WS-ROLE-2: a redacted event keeps every field but payload and redacted, its hash included', () => {
    const w = new SessionWorld();
    w.open(['t1'], VIEWER);
    const payload = 'internal notes';
    const original: AgentEvent = { tenant: TENANT, user: USER, thread: 't1', run: 'r1', idx: 0, type: 'agent_started', sensitivity: 'internal', payload, hash: payloadHash(payload) };
    w.publishEvent(original);
    const [frame] = w.port.events();
    expect(frame?.event).to.deep.equal({ ...original, payload: REDACTED, redacted: true });
    expect(payloadHash(frame!.event!.payload)).to.not.equal(frame!.event!.hash);
  });

  it('WS-BATCH-2: the frames of one flush travel in batches within maxBatchBytes; a frame that does not fit goes alone', () => {
    const w = new SessionWorld({ config: { maxBatchBytes: 1024 } });
    w.open(['t1']);
    const mark = w.mark;
    w.publish('t1', 20); // ~230 characters per frame: several batches
    const big = 'x'.repeat(3000);
    w.publishEvent({ tenant: TENANT, user: USER, thread: 't1', run: 'r1', idx: 20, type: 'agent_thinking', sensitivity: 'public', payload: big, hash: payloadHash(big) });
    const messages = w.port.messages.slice(mark).map((m) => JSON.parse(m) as { type: string; frames?: unknown[] });
    const batches = w.port.messages.slice(mark).filter((_, i) => messages[i]!.type === 'batch');
    expect(batches.length).to.be.greaterThan(1);
    for (const b of batches) expect(b.length).to.be.at.most(1024);
    expect(messages.at(-1)).to.include({ type: 'event' }); // the big one, alone
    expect(w.seqs(mark)).to.deep.equal(Array.from({ length: 21 }, (_, i) => i + 1));
  });

  it('WS-HB-3: a ping is answered at once by a pong with its id', () => {
    const w = new SessionWorld();
    w.hello();
    const mark = w.mark;
    w.send({ v: 1, type: 'ping', id: 42 });
    expect(w.port.frames(mark)).to.deep.equal([{ v: 1, type: 'pong', id: 42 }]);
  });

  it('WS-HB-4: a session that hears nothing for reapAfterMs closes 4000 "peer silent"; a message resets the timer', () => {
    const w = new SessionWorld();
    w.hello();
    w.scheduler.runUntil(cfg.reapAfterMs - 1);
    w.send({ v: 1, type: 'ack', acks: {} });
    const heardAt = w.scheduler.now;
    w.scheduler.runUntil(heardAt + cfg.reapAfterMs - 1);
    expect(w.port.closes).to.deep.equal([]);
    w.scheduler.runUntil(heardAt + cfg.reapAfterMs);
    expect(w.port.closes).to.deep.equal([{ code: 4000, reason: 'peer silent' }]);
    expect(w.done).to.equal(true);
  });
});

