#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere).

The seeds are committed; rerun this only to change them. Each seed starts
with the bytes the target reads as its configuration (see the comment at
the top of each fuzz target).
"""
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # the mask key of RFC 6455 section 5.7


def mask(payload, key=KEY):
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def frame(opcode, payload, fin=True, rsv1=False, key=None):
    """One frame; masked when a key is given."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    m = 0x80 if key else 0
    n = len(payload)
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 1 << 16:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if key:
        return head + key + mask(payload, key)
    return head + payload


def deflate(data):
    """Raw deflate with a sync flush, trailer stripped (RFC 7692 7.2.1)."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


HELLO_DEFLATED = bytes([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])  # RFC 7692 7.2.3.1
HELLO_AGAIN = bytes([0xF2, 0x00, 0x11, 0x00, 0x00])  # 7.2.3.2: with context
JSON = (
    b'{"type":"update","seq":%d,"items":[' % 42
    + b",".join(b'{"id":%d,"name":"item-%d","ok":true}' % (i, i) for i in range(60))
    + b"]}"
)


def server(tier, deflate_on=False, reset=False):
    return (tier << 3) | (2 if deflate_on else 0) | (4 if reset else 0)


def client(tier, deflate_on=False, reset=False):
    return server(tier, deflate_on, reset) | 1


# Piece-size seeds: bits 0-1 pick the largest piece (1, 8, 100, 4096 bytes).
BYTEWISE, SMALL, MEDIUM, LARGE = 0x00, 0x11, 0x22, 0x33

frame_decoder = {
    # RFC 6455 5.7: a masked "Hello", as a server receives it.
    "server_masked_hello": bytes([server(1), SMALL]) + frame(0x1, b"Hello", key=KEY),
    # RFC 6455 5.7: "Hel" + "lo" unmasked, as a client receives it.
    "client_fragmented_hello": bytes([client(1), BYTEWISE])
    + frame(0x1, b"Hel", fin=False)
    + frame(0x0, b"lo"),
    # A masked ping, then a masked close 1000 "bye".
    "server_ping_close": bytes([server(1), MEDIUM])
    + frame(0x9, b"Hello", key=KEY)
    + frame(0x8, b"\x03\xe8bye", key=KEY),
    # A 256-byte binary message (16-bit length) with a pong in between fragments.
    "client_binary_256": bytes([client(1), MEDIUM])
    + frame(0x2, bytes(range(256))[:200], fin=False)
    + frame(0xA, b"")
    + frame(0x0, bytes(range(256))[200:]),
    # A header claiming 64 KiB (64-bit length) followed by a little payload.
    "client_claims_64k": bytes([client(3), LARGE])
    + bytes([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
    + b"x" * 40,
    # permessage-deflate: RFC 7692's compressed "Hello", masked, then the
    # second "Hello" compressed with the first's context, in two fragments.
    "server_deflate_hello": bytes([server(1, deflate_on=True), SMALL])
    + frame(0x1, HELLO_DEFLATED, rsv1=True, key=KEY)
    + frame(0x1, HELLO_AGAIN[:2], fin=False, rsv1=True, key=KEY)
    + frame(0x0, HELLO_AGAIN[2:], key=KEY),
    # A compressed binary JSON message, for the client role.
    "client_deflate_json": bytes([client(2, deflate_on=True, reset=True), MEDIUM])
    + frame(0x2, deflate(JSON), rsv1=True),
    # Multibyte text split inside code points, over three fragments.
    "server_utf8_fragments": bytes([server(1), BYTEWISE])
    + frame(0x1, "κόσμε".encode()[:3], fin=False, key=KEY)
    + frame(0x0, "κόσμε 𝄞".encode()[3:7], fin=False, key=KEY)
    + frame(0x0, "κόσμε 𝄞".encode()[7:], key=KEY),
    # Invalid UTF-8 (a surrogate) in a text frame.
    "server_bad_utf8": bytes([server(1), SMALL])
    + frame(0x1, b"ok \xed\xa0\x80", key=KEY),
    # Five fragments: over the tiny tier's max_fragments (4).
    "server_too_many_fragments": bytes([server(0), MEDIUM])
    + b"".join(frame(0x2 if i == 0 else 0x0, b"ab", fin=i == 4, key=KEY) for i in range(5)),
}

REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"\r\n"
)

handshake = {
    "request_rfc6455": REQUEST,
    "request_browser": (
        b"GET /ws?room=1 HTTP/1.1\r\n"
        b"Host: localhost:9001\r\n"
        b"Connection: keep-alive, Upgrade\r\n"
        b"Pragma: no-cache\r\n"
        b"Upgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: sN9cRrP/n9NdMgdcy2VJFQ==\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; "
        b'client_max_window_bits="12"; server_no_context_takeover, permessage-deflate\r\n'
        b"Sec-WebSocket-Protocol: v2.json\r\n"
        b"\r\n"
        # A first frame pipelined after the head.
        + frame(0x1, b"Hello", key=KEY)
    ),
    "response_101": (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
        b"client_max_window_bits=10\r\n"
        b"\r\n"
    ),
    "response_403": b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
    "extensions": b'permessage-deflate; client_max_window_bits; server_max_window_bits="10", '
    b"x-webkit-deflate-frame",
}

# inflater: byte 0 bit 0 no context takeover, bits 1-2 limit (16 B, 1 KiB,
# 64 KiB, 1 MiB); byte 1 piece seed.
L16, L1K, L64K, L1M = 0 << 1, 1 << 1, 2 << 1, 3 << 1
inflater = {
    # RFC 7692 7.2.3.1, inflated twice with context takeover.
    "rfc_hello": bytes([L64K, SMALL]) + HELLO_DEFLATED,
    # The same without context takeover, a byte at a time.
    "rfc_hello_reset": bytes([L64K | 1, BYTEWISE]) + HELLO_DEFLATED,
    # 7.2.3.3: a stored (uncompressed) block; the last 0x00 starts the empty
    # stored block whose LEN/NLEN are the stripped trailer.
    "rfc_stored_block": bytes([L1K, SMALL])
    + bytes([0x00, 0x05, 0x00, 0xFA, 0xFF])
    + b"Hello"
    + bytes([0x00]),
    # 7.2.3.4: a block with BFINAL set.
    "rfc_bfinal": bytes([L1K, SMALL]) + bytes([0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00]),
    # 7.2.3.5: two blocks in one message.
    "rfc_two_blocks": bytes([L1K, BYTEWISE])
    + bytes([0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00]),
    # A JSON message of about 2 KiB: over the 1 KiB limit.
    "json_over_limit": bytes([L1K, MEDIUM]) + deflate(JSON),
    "json": bytes([L64K | 1, LARGE]) + deflate(JSON),
    # 64 KiB of zeros in a few dozen bytes: a small bomb against a 16-byte limit.
    "bomb": bytes([L16, MEDIUM]) + deflate(bytes(64 << 10)),
}

# deflate_round_trip: byte 0 bits 0-2 window (8 + n bits), bit 3 no context
# takeover, bit 4 level 6, bit 7 lengths x 97; then messages, each a length
# byte and bytes taken repeated from what follows.
NO_TAKEOVER, LEVEL_6, LONG = 8, 16, 128
deflate_round_trip = {
    # Small JSON messages through the quick encoder with a 256-byte window.
    "json_8_bits_no_takeover": bytes([0 | NO_TAKEOVER, 32])
    + b'{"id":1,"text":"hello hello"}'
    + bytes([5])
    + b"abcde",
    # Runs and repeats at 15 bits, with context takeover (zlib).
    "runs_15_bits_takeover": bytes([7, 64]) + b"aaaaaaaabbbbbbbbaaaaaaaa" + bytes([1]) + b"z",
    # Long messages (lengths x 97) at level 6 without context takeover.
    "long_level_6_no_takeover": bytes([3 | NO_TAKEOVER | LEVEL_6 | LONG, 16]) + bytes(range(16)),
}


def write(target, seeds):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


write("frame_decoder", frame_decoder)
write("handshake", handshake)
write("inflater", inflater)
write("deflate_round_trip", deflate_round_trip)
