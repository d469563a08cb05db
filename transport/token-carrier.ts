/**
 * How a browser carries its token at the upgrade. Browsers cannot set an
 * Authorization header on a WebSocket; they can put the token in the query
 * (`?token=`, which proxies may log) or in `Sec-WebSocket-Protocol`, the only
 * header a page controls. The subprotocol form offers two protocols: the
 * protocol name, which the server selects (a browser fails a connection whose
 * server selects none of the offered ones), and the token, base64url-encoded
 * because a subprotocol must be an HTTP token; the server never echoes it.
 */

export const WSIM_SUBPROTOCOL = 'wsim.v1';
const BEARER_PREFIX = 'wsim.bearer.';

const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder('utf-8', { fatal: true });

function base64url(text: string): string {
  let binary = '';
  for (const byte of utf8.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64url(text: string): string | null {
  try {
    const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
    return utf8Decode.decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

/** The subprotocols a client offers to carry `token`. */
export function bearerProtocols(token: string): string[] {
  return [WSIM_SUBPROTOCOL, BEARER_PREFIX + base64url(token)];
}

/** The token in a `Sec-WebSocket-Protocol` header, if one is there. */
export function tokenFromProtocols(header: string | undefined): string | null {
  if (!header) return null;
  for (const offered of header.split(',')) {
    const protocol = offered.trim();
    if (protocol.startsWith(BEARER_PREFIX)) return fromBase64url(protocol.slice(BEARER_PREFIX.length));
  }
  return null;
}
