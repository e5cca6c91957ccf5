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


# --- HTTP/1 heads: byte 0 seeds the piece sizes, the rest is the wire.
http1_head = {
    "websocket_upgrade": b"\x01GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "post_expect_continue": b"\x02POST /chat HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Expect: 100-continue\r\n\r\nhello",
    "chunked_then_pipelined": b"\x03POST /publish HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "later_minor_version": b"\x00GET /?a=1 HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n",
    "bare_lf": b"\x01GET / HTTP/1.1\nHost: x\n\n",
    "connect_authority": b"\x02CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "cl_and_te": b"\x03POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}

# --- HTTP/1 bodies: byte 0 the framing (0 chunked, 2 Content-Length with
# a 2-byte length after it, 3 none), then the piece seed, then the wire.
http1_body = {
    "chunked_ext_next": bytes([0, 1]) + b"5;ext=1\r\nhello\r\n0\r\n\r\nNEXT",
    "chunked_trailers": bytes([0, 2]) + b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
    b"0\r\nExpires: never\r\nX-Checksum: 1\r\n\r\n",
    "chunked_quoted_ext": bytes([1, 3]) + b'3;name="va\\"l";x = y\r\nabc\r\n0\r\n\r\n',
    "chunked_bare_lf_ext": bytes([0, 0]) + b"5;a\nb\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
    "length_then_next": bytes([2, 0, 5, 1]) + b"helloGET / HTTP/1.1\r\n",
    "empty": bytes([3, 2]) + b"GET / HTTP/1.1\r\n\r\n",
}


def h2(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


# --- HTTP/2 frames: byte 0 (bit 0: the largest frame size; bits 1-7: the
# size put_headers splits at, less one), then frames.
REQUEST_BLOCK = bytes.fromhex("82864188f1e3c2e5f23a6ba0ab90f4ff")
http2_frames = {
    "client_start": bytes([2 * 7])
    + h2(4, 0, 0, bytes.fromhex("000300000064000400100000000800000001"))
    + h2(8, 0, 0, (1 << 20).to_bytes(4, "big"))
    + h2(1, 0x05, 1, REQUEST_BLOCK)
    + h2(4, 1, 0, b""),
    "padded_priority_continuation": bytes([2 * 3 + 1])
    + h2(1, 0x08 | 0x20 | 0x01, 3, bytes([2]) + bytes([0x80, 0, 0, 1, 15]) + REQUEST_BLOCK[:5] + b"\0\0")
    + h2(9, 0x04, 3, REQUEST_BLOCK[5:])
    + h2(0, 0x09, 3, bytes([3]) + b"hello" + b"\0\0\0"),
    "control": bytes([0])
    + h2(6, 0, 0, b"12345678")
    + h2(6, 1, 0, b"abcdefgh")
    + h2(3, 0, 5, (8).to_bytes(4, "big"))
    + h2(2, 0, 5, bytes([0, 0, 0, 3, 200]))
    + h2(7, 0, 0, (7).to_bytes(4, "big") + (0).to_bytes(4, "big") + b"bye")
    + h2(0xFA, 0, 0, b"unknown"),
    "errors": bytes([1])
    + h2(8, 0, 1, (0).to_bytes(4, "big"))
    + h2(2, 0, 5, bytes([0, 0, 0, 5, 0]))
    + h2(4, 0, 0, bytes.fromhex("000500ffffff")),
}

# --- HPACK: byte 0 (table size, list size, peer table size), then blocks
# each after a 2-byte length. RFC 7541 C.3, C.4 and C.6.
def blocks(*hexes):
    out = b""
    for h in hexes:
        raw = bytes.fromhex(h.replace(" ", ""))
        out += len(raw).to_bytes(2, "big") + raw
    return out


hpack = {
    "rfc_c3_requests": bytes([2 | 3 << 2 | 2 << 4]) + blocks(
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
    "rfc_c4_requests_huffman": bytes([2 | 2 << 2 | 1 << 4]) + blocks(
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
    "rfc_c6_responses_eviction": bytes([3 | 1 << 2]) + blocks(
        "3f e1 01"  # a table size update to 256
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
        "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf"),
    "never_indexed_and_late_update": bytes([2 | 3 << 2]) + blocks(
        "1008 7061 7373 776f 7264 0673 6563 7265 74", "82 20"),
}

# --- Hub: byte 0 the configuration (1: permissive), then frames after NUL
# bytes, each after its IO byte (bit 0 connection, bit 1 drain, bit 2 a
# second passes, bit 3 reopen, bit 4 emulation).
def hub_frames(config, *frames):
    return bytes([config]) + b"\0".join(bytes([io]) + f for io, f in frames)


hub_command = {
    "connect_subscribe_publish": hub_frames(1,
        (0, b'{"id":1,"connect":{"name":"js"}}\n{"id":2,"subscribe":{"channel":"chat:1"}}'),
        (2, b'{"id":3,"publish":{"channel":"chat:1","data":{"text":"hi"}}}\n'
            b'{"id":4,"history":{"channel":"chat:1","limit":10}}\n'
            b'{"id":5,"presence":{"channel":"chat:1"}}\n{"id":6,"presence_stats":{"channel":"chat:1"}}'),
        (1, b'{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"chat:1","recover":true,"offset":0,"epoch":"x"}}'),
        (6, b"{}"),
        (3, b'{"id":7,"unsubscribe":{"channel":"chat:1"}}\n{"id":8,"rpc":{"method":"m","data":1}}')),
    "slow_policies": hub_frames(1,
        (0, b'{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"drop:a"}}\n'
            b'{"id":3,"subscribe":{"channel":"ticker:b"}}'),
        (1, b'{"id":1,"connect":{}}\n{"id":2,"publish":{"channel":"drop:a","data":"' + b"x" * 600 + b'"}}\n'
            b'{"id":3,"publish":{"channel":"ticker:b","data":"' + b"y" * 600 + b'"}}'),
        (1, b'{"id":4,"publish":{"channel":"drop:a","data":[1,2,3]}}'),
        (2, b'{"id":4,"history":{"channel":"drop:a","since":{"offset":0,"epoch":""}}}')),
    "default_config_no_token": hub_frames(0,
        (2, b'{"id":1,"connect":{"token":"x.y.z","data":{"a":1}}}'),
        (8 | 16, b'{"id":1,"connect":{}}\n{"id":2,"send":{"data":1}}')),
    "garbage": hub_frames(1, (0, b'{"id":1,"connect":{}}'), (2, b'{"id":-1}\n{"id":2'), (0, b" \n \n{}")),
}

# --- JWT: byte 0 (bits 0-1 audience/issuer required, bits 2-3 the kind of
# token: 0 as is, 1 raw parts after 0xFF, 2 claims signed with the secret).
jwt = {
    "jwt_io_example": bytes([0]) + b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    b"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    b"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "raw_parts": bytes([1 << 2]) + b'{"alg":"HS256","typ":"JWT","kid":"k"}\xff{"sub":"42"}\xffsig',
    "raw_none_alg": bytes([1 << 2 | 3]) + b'{"alg":"none"}\xff{"sub":"42","aud":"pushwire"}\xff',
    "signed_connection": bytes([2 << 2]) + b'{"sub":"42","exp":2000000000,"info":{"a":1},"channels":["news"]}',
    "signed_subscription": bytes([2 << 2 | 1]) + b'{"sub":"1","aud":"pushwire","channel":"chat:1","exp":1e10}',
    "signed_expired_subs": bytes([3 << 2 | 3]) + b'{"sub":"x","iss":"https://auth.example","aud":["pushwire"],'
    b'"nbf":1.5,"exp":1,"expire_at":0,"subs":{"chat:1":{"data":1,"info":null}}}',
    # Found by the fuzzer: a number RawValue takes and Value refuses.
    "signed_number_out_of_range": bytes([2 << 2 | 1]) + b'{"busl":"ct@1","exp":1e0909}',
}

# --- SSE: byte 0 the limit (0: 16, 1: 256, 2: 4096, 3: the default),
# byte 1 the piece seed, then the stream.
sse_parser = {
    "bom_retry_comment": bytes([3, 1]) + b"\xEF\xBB\xBFretry: 500\r\n: hi\r\ndata: a\r\ndata\r\n\r\n",
    "over_limit": bytes([0, 2]) + b"id: 1\nevent: tick\ndata: 0123456789abcdef0123\n\ndata: b\n\n",
    "cr_endings_nul_id": bytes([3, 3]) + b"data: x\r\rid: 7\0\rid: 8\rdata:y\n\n:\nevent:\n",
    "round_trip_parts": bytes([2, 0]) + b"line1\r\nline2\rline3\xffupdate\xff42",
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
write("http1_head", http1_head)
write("http1_body", http1_body)
write("http2_frames", http2_frames)
write("hpack", hpack)
write("hub_command", hub_command)
write("jwt", jwt)
write("sse_parser", sse_parser)
