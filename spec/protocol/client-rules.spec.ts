/**
 * The client's side of PROTOCOL.md, one requirement per test (its id in the
 * title): a real client connection machine on a simulated clock, fed wire
 * messages through the real inbox, judged by what it sends, closes and hands
 * to its app.
 */
import { expect } from 'chai';
import { DEFAULT_CLIENT_CONFIG } from '../../machines/client-connection.ts';
import { ClientInbox, framesOf } from '../../machines/client-inbox.ts';
import { encode } from '../../machines/protocol.ts';
import { ClientWorld, eventFrame } from './client-world.ts';

const cfg = DEFAULT_CLIENT_CONFIG;

describe('protocol: client rules of PROTOCOL.md', function () {
  it('WS-FRAME-7: an undecodable server message is counted, never answered, and the connection stays open', () => {
    const w = new ClientWorld();
    w.open();
    const mark = w.port.sent.length;
    w.message('{"v":1,"type":"event"');
    w.message('{"v":1,"type":"hello","token":"x"}');
    expect(w.port.rejectedCodes).to.deep.equal(['malformed_json', 'unknown_type']);
    expect(w.port.sent.slice(mark)).to.deep.equal([]);
    expect(w.port.closes).to.deep.equal([]);
    expect(w.actor.getSnapshot().matches('open')).to.equal(true);
  });

  it('WS-HELLO-4: no open socket in connectTimeoutMs, or no welcome in authTimeoutMs: close 1000 and reconnect', () => {
    const w = new ClientWorld();
    w.actor.send({ type: 'START' });
    w.advance(cfg.connectTimeoutMs);
    expect(w.port.closes).to.deep.equal([{ code: 1000, reason: 'connect timeout' }]);
    expect(w.state).to.equal('reconnecting');
    w.advance(cfg.backoffCapMs);
    expect(w.port.connects).to.equal(2);
    w.linkOpen();
    expect(w.port.ofType('hello')).to.deep.equal([{ v: 1, type: 'hello', token: 'tok' }]);
    w.advance(cfg.authTimeoutMs - 1);
    expect(w.state).to.equal('authenticating');
    w.advance(1);
    expect(w.port.closes.at(-1)).to.deep.equal({ code: 1000, reason: 'auth timeout' });
    expect(w.state).to.equal('reconnecting');
  });

  it('WS-SUB-4: an unsubscribed thread is unsubscribed on the wire, and its late event frames never reach the app', () => {
    const w = new ClientWorld(['t1', 't2']);
    w.open();
    w.subscribed('t1');
    w.subscribed('t2');
    w.receive(eventFrame('t1', 1));
    w.actor.send({ type: 'UNSUBSCRIBE', thread: 't1' });
    expect(w.port.ofType('unsubscribe')).to.deep.equal([{ v: 1, type: 'unsubscribe', thread: 't1' }]);
    w.receive(eventFrame('t1', 2));
    w.receive(eventFrame('t2', 1));
    expect(w.port.appLog).to.deep.equal(['deliver t1#1', 'deliver t2#1']);
  });

  it('WS-SUB-5: an unanswered subscribe is sent again every resubscribeMs, and no more once answered', () => {
    const w = new ClientWorld();
    w.open();
    const subscribe = { v: 1, type: 'subscribe', thread: 't1', from: 1 };
    expect(w.port.ofType('subscribe')).to.deep.equal([subscribe]);
    w.advance(cfg.resubscribeMs);
    expect(w.port.ofType('subscribe')).to.deep.equal([subscribe, subscribe]);
    w.subscribed('t1');
    w.advance(cfg.resubscribeMs * 4);
    expect(w.port.ofType('subscribe')).to.have.length(2);
  });

  it('WS-SUB-7: a thread whose frames still arrive after its unsubscribe is unsubscribed again, once per resubscribeMs while they come', () => {
    const w = new ClientWorld(['t1', 't2']);
    w.open();
    w.subscribed('t1');
    w.subscribed('t2');
    w.actor.send({ type: 'UNSUBSCRIBE', thread: 't1' });
    const unsubscribe = { v: 1, type: 'unsubscribe', thread: 't1' };
    expect(w.port.ofType('unsubscribe')).to.deep.equal([unsubscribe]);
    // the server lost it: its frames keep coming (and are never handed to the app)
    w.receive(eventFrame('t1', 1));
    w.receive(eventFrame('t1', 2));
    w.advance(cfg.resubscribeMs);
    expect(w.port.ofType('unsubscribe'), 'sent again once for two frames').to.deep.equal([unsubscribe, unsubscribe]);
    // it got through: nothing more comes, nothing more is sent
    w.advance(cfg.resubscribeMs * 4);
    expect(w.port.ofType('unsubscribe')).to.have.length(2);
    expect(w.port.appLog).to.deep.equal([]);
  });

  it('WS-SUB-7: a thread subscribed anew after a frame of it came unwanted is not unsubscribed again (that would stop it)', () => {
    const w = new ClientWorld(['t1']);
    w.open();
    w.subscribed('t1');
    w.actor.send({ type: 'UNSUBSCRIBE', thread: 't1' });
    w.receive(eventFrame('t1', 1)); // on its way before the unsubscribe arrived
    w.actor.send({ type: 'SUBSCRIBE', thread: 't1' });
    w.advance(cfg.resubscribeMs * 4);
    expect(w.port.ofType('unsubscribe')).to.have.length(1);
  });

  it('WS-DELIVER-2: a duplicate of a released frame is acknowledged again, and not delivered', () => {
    const w = new ClientWorld();
    w.open();
    w.subscribed();
    for (const seq of [1, 2, 3]) w.receive(eventFrame('t1', seq));
    w.advance(cfg.ackDelayMs);
    expect(w.port.ofType('ack')).to.deep.equal([{ v: 1, type: 'ack', acks: { t1: 3 } }]);
    w.receive(eventFrame('t1', 2)); // the server did not hear that ack
    w.advance(cfg.ackDelayMs);
    expect(w.port.ofType('ack')).to.deep.equal([{ v: 1, type: 'ack', acks: { t1: 3 } }, { v: 1, type: 'ack', acks: { t1: 3 } }]);
    expect(w.seqs()).to.deep.equal([1, 2, 3]);
  });

  it('WS-DELIVER-3: an event frame without event (withheld) settles its sequence, delivers nothing, and is acknowledged', () => {
    const w = new ClientWorld();
    w.open();
    w.subscribed();
    w.receive(eventFrame('t1', 1));
    const { event: _withheld, ...withheld } = eventFrame('t1', 2);
    w.receive(withheld);
    w.receive(eventFrame('t1', 3));
    expect(w.seqs()).to.deep.equal([1, 3]);
    w.advance(cfg.ackDelayMs);
    expect(w.port.ofType('ack').at(-1)).to.deep.equal({ v: 1, type: 'ack', acks: { t1: 3 } });
  });

  it('WS-RESYNC-1: beyond_window tells the app of the gap and moves only forward', () => {
    const w = new ClientWorld();
    w.open();
    w.receive({ v: 1, type: 'resync_required', thread: 't1', epoch: 'e1', from: 5, reason: 'beyond_window' });
    expect(w.port.resyncs).to.deep.equal([{ thread: 't1', from: 1, to: 5, reason: 'beyond_window' }]);
    w.receive(eventFrame('t1', 5));
    w.receive(eventFrame('t1', 6));
    expect(w.seqs()).to.deep.equal([5, 6]);
    // a resync behind the position does not move the stream back
    w.receive({ v: 1, type: 'resync_required', thread: 't1', epoch: 'e1', from: 3, reason: 'beyond_window' });
    w.receive(eventFrame('t1', 3));
    w.receive(eventFrame('t1', 7));
    expect(w.seqs()).to.deep.equal([5, 6, 7]);
  });

  it('WS-RESYNC-3: an event frame repeating a resync the client never heard announces the gap before the event', () => {
    const w = new ClientWorld();
    w.open(); // the subscribe is unanswered: its resync_required was lost
    w.receive(eventFrame('t1', 4, { resync: { from: 4, reason: 'beyond_window' } }));
    w.receive(eventFrame('t1', 5, { resync: { from: 4, reason: 'beyond_window' } }));
    expect(w.port.appLog).to.deep.equal(['resync t1 1→4', 'deliver t1#4', 'deliver t1#5']);
  });

  /** Seq 1 delivered, seq 2 lost on the way, 3..5 held behind the gap. */
  const heldBehindAGap = (): ClientWorld => {
    const w = new ClientWorld();
    w.open();
    w.subscribed();
    w.receive(eventFrame('t1', 1));
    for (const seq of [3, 4, 5]) w.receive(eventFrame('t1', seq));
    return w;
  };

  /**
   * Found by a deeper sweep (connection_failure_recovery, a 3-entry log): seq 2 dropped, 3..5
   * held behind the gap, seq 2 evicted. Before the fix the client moved to the resync's start
   * but never handed the app what it held there, and took the retransmitted frame carrying the
   * resync as a duplicate: nothing more was delivered, acked or closed until the server gave up.
   */
  it('WS-RESYNC-1: beyond_window over a gap hands the app at once the frames held from its start', () => {
    const w = heldBehindAGap();
    w.receive({ v: 1, type: 'resync_required', thread: 't1', epoch: 'e1', from: 4, reason: 'beyond_window' });
    expect(w.port.appLog).to.deep.equal(['deliver t1#1', 'resync t1 2→4', 'deliver t1#4', 'deliver t1#5']);
    w.advance(cfg.ackDelayMs);
    expect(w.port.ofType('ack').at(-1)).to.deep.equal({ v: 1, type: 'ack', acks: { t1: 5 } });
  });

  it('WS-RESYNC-3: an event frame repeating a resync over a gap is heard for it even when the frame is held already', () => {
    const w = heldBehindAGap();
    w.receive(eventFrame('t1', 4, { resync: { from: 4, reason: 'beyond_window' } }));
    expect(w.port.appLog).to.deep.equal(['deliver t1#1', 'resync t1 2→4', 'deliver t1#4', 'deliver t1#5']);
    // heard once: the same frame again is a duplicate now
    w.receive(eventFrame('t1', 4, { resync: { from: 4, reason: 'beyond_window' } }));
    expect(w.seqs()).to.deep.equal([1, 4, 5]);
  });

  it('WS-RESYNC-4: a repeated epoch_changed for the epoch the stream follows does not move it back again', () => {
    const w = new ClientWorld();
    w.open();
    w.subscribed();
    for (const seq of [1, 2, 3]) w.receive(eventFrame('t1', seq));
    // a restart: the new epoch numbers the stream afresh
    w.actor.send({ type: 'LINK_CLOSED', code: 1012, reason: 'restart' });
    w.advance(cfg.backoffCapMs);
    w.linkOpen();
    w.receive({ v: 1, type: 'welcome', session: 's2', epoch: 'e2' });
    const changed = { v: 1, type: 'resync_required', thread: 't1', epoch: 'e2', from: 1, reason: 'epoch_changed' } as const;
    w.receive(changed);
    w.receive(eventFrame('t1', 1, { epoch: 'e2' }));
    w.receive(eventFrame('t1', 2, { epoch: 'e2' }));
    w.receive(changed); // the same answer again (a resent resume was answered twice)
    w.receive(eventFrame('t1', 1, { epoch: 'e2' }));
    w.receive(eventFrame('t1', 3, { epoch: 'e2' }));
    expect(w.seqs()).to.deep.equal([1, 2, 3, 1, 2, 3]);
    expect(w.port.resyncs.map((r) => r.reason)).to.deep.equal(['epoch_changed', 'epoch_changed']);
  });

  it('WS-BATCH-1: the frames of a batch are taken in order, each as if it came alone', () => {
    const batch = encode({
      v: 1,
      type: 'batch',
      frames: [{ v: 1, type: 'subscribed', thread: 't1', epoch: 'e1', from: 1, recovered: false }, eventFrame('t1', 2), eventFrame('t1', 1), { v: 1, type: 'pong', id: 1 }],
    });
    // the inbox hands the machine the two event frames as one run, in the batch's order
    expect(new ClientInbox().accept(batch).map((e) => e.type)).to.deep.equal(['frame.subscribed', 'frame.events', 'frame.pong']);
    expect(framesOf(new ClientInbox().accept(batch)).map((f) => f.type)).to.deep.equal(['subscribed', 'event', 'event', 'pong']);
    const w = new ClientWorld();
    w.open();
    w.message(batch);
    expect(w.seqs()).to.deep.equal([1, 2]);
    // a batch inside a batch is refused whole
    const nested = encode({ v: 1, type: 'batch', frames: [{ v: 1, type: 'batch', frames: [] }] } as never);
    expect(new ClientInbox().accept(nested)).to.deep.equal([{ type: 'frame.invalid', code: 'unknown_type', detail: "frame type 'batch' is not accepted in this direction or position" }]);
  });

  it('WS-HB-2: any frame heard after a ping, not only the pong, keeps the connection open', () => {
    const w = new ClientWorld();
    w.open();
    w.subscribed();
    w.advance(cfg.pingIntervalMs);
    expect(w.port.ofType('ping')).to.deep.equal([{ v: 1, type: 'ping', id: 1 }]);
    w.advance(cfg.pongTimeoutMs - 1);
    w.receive(eventFrame('t1', 1)); // no pong: the event frame is proof enough
    w.advance(1);
    expect(w.port.closes).to.deep.equal([]);
    expect(w.actor.getSnapshot().matches('open')).to.equal(true);
    // a silent server is still found: the next probe gets nothing
    w.advance(cfg.pingIntervalMs + cfg.pongTimeoutMs);
    expect(w.port.closes).to.deep.equal([{ code: 4000, reason: 'heartbeat timeout' }]);
  });
});
