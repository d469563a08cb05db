"""A wsim client written from PROTOCOL.md alone, in Python with the standard
library only (a minimal RFC 6455 client over a socket). Its payload_hash is
the document's own Python block, read from PROTOCOL.md and run as written.

usage: doc_client.py URL TOKEN THREAD COUNT PROTOCOL.md
Prints {"ready": true} once subscribed and {"settled": true} once all is
acknowledged, waits for a line on stdin, then prints one JSON summary line
and exits.
"""
import base64
import json
import os
import re
import socket
import struct
import sys
from urllib.parse import urlencode, urlsplit


def load_payload_hash(doc_path):
    text = open(doc_path, encoding='utf-8').read()
    code = re.search(r'```python\n(.*?)```', text, re.S).group(1)
    scope = {}
    exec(code, scope)
    return scope['payload_hash']


class Socket:
    """Just enough of RFC 6455: text frames, fragments, ping, close."""

    def __init__(self, url, token):
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        self.buf = b''
        key = base64.b64encode(os.urandom(16)).decode()
        target = (parts.path or '/') + '?' + urlencode({'token': token})
        self.sock.sendall((f'GET {target} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n'
                           f'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                           f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n').encode())
        while b'\r\n\r\n' not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        status = head.split(b'\r\n')[0].decode()
        if ' 101 ' not in status:
            raise SystemExit(f'upgrade refused: {status}')

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('the server closed the socket')
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack('>BB', 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack('>BBH', 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack('>BBQ', 0x80 | opcode, 0x80 | 127, n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, frame):
        self._send(0x1, json.dumps({'v': 1, **frame}).encode('utf-8'))

    def close(self):
        self._send(0x8, struct.pack('>H', 1000))
        self.sock.close()

    def recv(self):
        """The next text message, or None when the server closes."""
        message = b''
        while True:
            b0, b1 = self._take(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack('>H', self._take(2))[0]
            elif n == 127:
                n = struct.unpack('>Q', self._take(8))[0]
            data = self._take(n)  # server frames are not masked
            if opcode == 0x9:
                self._send(0xA, data)
            elif opcode == 0x8:
                return None
            elif opcode in (0x0, 0x1):
                message += data
                if b0 & 0x80:
                    return message.decode('utf-8')


def main(url, token, thread, count, doc_path):
    payload_hash = load_payload_hash(doc_path)
    ws = Socket(url, token)
    ws.send({'type': 'hello', 'token': token})
    welcome = json.loads(ws.recv())
    ws.send({'type': 'subscribe', 'thread': thread, 'from': 1})

    state = {'next': 1, 'chunks': 0, 'pong': None, 'subscribed': None}
    received, problems, parts = [], [], {}

    def on_event(frame):
        seq = frame['seq']
        if seq != state['next']:
            if seq > state['next']:
                problems.append(f'gap before {seq}')
            return  # a duplicate: the ack below covers it again
        event = frame.get('event')
        if event is not None:
            if payload_hash(event['payload']) != event['hash']:
                problems.append(f'payload hash of {seq}')
            received.append([seq, event['run'], event['idx'], len(event['payload'])])
        state['next'] = frame.get('through', seq) + 1

    def on_chunk(chunk):
        state['chunks'] += 1
        key = (chunk['thread'], chunk['seq'])
        slots = parts.setdefault(key, {})
        slots[chunk['index']] = chunk['data']
        if len(slots) < chunk['count']:
            return
        del parts[key]
        text = ''.join(slots[i] for i in range(chunk['count']))
        if payload_hash(text) != chunk['hash']:
            problems.append(f'chunk hash of {key}')
            return
        on_frame(json.loads(text))

    def on_frame(frame):
        kind = frame['type']
        if kind == 'event':
            on_event(frame)
        elif kind == 'chunk':
            on_chunk(frame)
        elif kind == 'subscribed':
            state['subscribed'] = frame
            print(json.dumps({'ready': True}), flush=True)
        elif kind == 'pong':
            state['pong'] = frame['id']
        elif kind in ('resync_required', 'error'):
            problems.append(json.dumps(frame))

    while len(received) < count or state['pong'] != 7:
        text = ws.recv()
        if text is None:
            problems.append('closed by the server')
            break
        frame = json.loads(text)
        for inner in frame['frames'] if frame['type'] == 'batch' else [frame]:
            on_frame(inner)
        if state['next'] > 1:
            ws.send({'type': 'ack', 'acks': {thread: state['next'] - 1}})
        if len(received) >= count and state['pong'] is None:
            ws.send({'type': 'ping', 'id': 7})
            state['pong'] = -1
    # everything is acknowledged (the pong came after the acks): let the caller look, then leave
    print(json.dumps({'settled': True}), flush=True)
    sys.stdin.readline()
    ws.close()
    print(json.dumps({'welcome': welcome, 'subscribed': state['subscribed'], 'received': received,
                      'chunks': state['chunks'], 'pong': state['pong'], 'problems': problems}), flush=True)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
