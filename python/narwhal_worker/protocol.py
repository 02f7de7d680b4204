"""The worker side of narwhal's frame protocol (docs/protocol.md; mirrors src/protocol/).

Every frame is a 12-byte header followed by ``length`` payload bytes::

        0        1        2        3        4        5        6        7
    +--------+--------+--------+--------+--------+--------+--------+--------+
    |  type  | flags  |  reserved (0)   |     request id (u32 big-endian)   |
    +--------+--------+--------+--------+--------+--------+--------+--------+
    |    payload length (u32 BE)        |  payload ... (length bytes)
    +--------+--------+--------+--------+--------+--------+-- - - -

Type bit 7 clear = sent by Node, set = sent by the worker. No flags are defined (0).
Request id 0 on connection frames, non-zero on request frames. Every size is capped and
a violation raises ProtocolError with the same fault names as the TypeScript codec.
Pinned by the golden vectors in test/fixtures/protocol/vectors.json.
"""

import json
import struct
from collections import namedtuple
from itertools import accumulate

PROTOCOL_VERSION = 1
HEADER_SIZE = 12
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_CONTROL_PAYLOAD = 1024 * 1024
MAX_PING_PAYLOAD = 64
MAX_CHUNK = 1024 * 1024
MAX_STRING = 0xFFFF
MAX_HEADERS = 4096

# Node -> worker
REQUEST = 0x01
BODY = 0x02
BODY_END = 0x03
ABORT = 0x04
FILE_ACK = 0x05
PING = 0x06
SHUTDOWN = 0x07
DUMP_STACK = 0x08
FORK = 0x09
# worker -> Node
HELLO = 0x81
BOOT_ERROR = 0x82
PONG = 0x83
RESPONSE_HEAD = 0x84
RESPONSE_BODY = 0x85
RESPONSE_FILE = 0x86
RESPONSE_END = 0x87
APP_ERROR = 0x88
LOG = 0x89
STACK = 0x8A
FORKED = 0x8B
CHILD_EXIT = 0x8C

NAMES = {
    v: k
    for k, v in dict(globals()).items()
    if k.isupper() and isinstance(v, int) and k not in (
        "PROTOCOL_VERSION", "HEADER_SIZE", "MAX_PAYLOAD", "MAX_CONTROL_PAYLOAD",
        "MAX_PING_PAYLOAD", "MAX_CHUNK", "MAX_STRING", "MAX_HEADERS")
}

# type -> (scope, min payload, max payload); scope "conn" = id 0 only, "req" = non-zero
_RULES = {
    REQUEST: ("req", 16, MAX_PAYLOAD),
    BODY: ("req", 0, MAX_PAYLOAD),
    BODY_END: ("req", 0, 0),
    ABORT: ("req", 0, 0),
    FILE_ACK: ("req", 1, 1),
    PING: ("conn", 0, MAX_PING_PAYLOAD),
    SHUTDOWN: ("conn", 0, 0),
    DUMP_STACK: ("req", 0, 0),
    HELLO: ("conn", 2, MAX_CONTROL_PAYLOAD),
    BOOT_ERROR: ("conn", 2, MAX_CONTROL_PAYLOAD),
    PONG: ("conn", 0, MAX_PING_PAYLOAD),
    RESPONSE_HEAD: ("req", 6, MAX_PAYLOAD),
    RESPONSE_BODY: ("req", 0, MAX_PAYLOAD),
    RESPONSE_FILE: ("req", 24, 24),
    RESPONSE_END: ("req", 0, 0),
    APP_ERROR: ("req", 2, MAX_CONTROL_PAYLOAD),
    LOG: ("any", 2, MAX_CONTROL_PAYLOAD),
    STACK: ("req", 2, MAX_CONTROL_PAYLOAD),
    FORK: ("conn", 2, MAX_CONTROL_PAYLOAD),
    FORKED: ("conn", 2, MAX_CONTROL_PAYLOAD),
    CHILD_EXIT: ("conn", 2, MAX_CONTROL_PAYLOAD),
}

BODY_INLINE = 0
BODY_FRAMES = 1
BODY_FILE = 2

_HEADER = struct.Struct(">BBHII")
_REQ_FIXED = struct.Struct(">BBHHHQ")
_HEAD_FIXED = struct.Struct(">HH")
_FILE = struct.Struct(">IIQQ")


_tables = {}


def _table(k):
    """struct for a table of k u16 lengths (cached: requests repeat their header counts)."""
    st = _tables.get(k)
    if st is None:
        st = struct.Struct(">%dH" % k)
        if len(_tables) < 256:
            _tables[k] = st
    return st


class ProtocolError(Exception):
    """The stream is out of sync or carries an impossible value; ``fault`` is stable."""

    def __init__(self, fault, message):
        super().__init__("worker protocol: %s" % message)
        self.fault = fault


def type_name(t):
    return NAMES.get(t, "0x%02x" % t)


def _check(t, flags, rid, length, sender):
    rule = _RULES.get(t)
    if rule is None:
        raise ProtocolError("UNKNOWN_TYPE", "unknown frame type %s" % type_name(t))
    scope, lo, hi = rule
    if (sender != "any" and ("worker" if t & 0x80 else "node") != sender) or flags or not (
            lo <= length <= hi) or not 0 <= rid <= 0xFFFFFFFF or (rid == 0) != (scope == "conn") and scope != "any":
        _refuse(t, flags, rid, length, sender, rule)


def _refuse(t, flags, rid, length, sender, rule):
    name = type_name(t)
    scope, lo, hi = rule
    if sender != "any" and ("worker" if t & 0x80 else "node") != sender:
        raise ProtocolError("BAD_DIRECTION", "%s cannot come from %s" % (name, sender))
    if flags != 0:
        raise ProtocolError("BAD_FLAGS", "%s with flags 0x%x" % (name, flags))
    if not 0 <= rid <= 0xFFFFFFFF or (scope == "conn" and rid != 0):
        raise ProtocolError("BAD_REQUEST_ID", "%s with request id %d" % (name, rid))
    if scope == "req" and rid == 0:
        raise ProtocolError("BAD_REQUEST_ID", "%s without request id" % name)
    if length > hi:
        fault = "BAD_PAYLOAD_LENGTH" if lo == hi else "PAYLOAD_TOO_LARGE"
        raise ProtocolError(fault, "%s payload of %d bytes (max %d)" % (name, length, hi))
    raise ProtocolError("BAD_PAYLOAD_LENGTH", "%s payload of %d bytes (min %d)" % (name, length, lo))


def frame_header(t, rid, length):
    _check(t, 0, rid, length, "any")
    return _HEADER.pack(t, 0, 0, rid, length)


def encode_frame(t, rid=0, payload=b""):
    _check(t, 0, rid, len(payload), "any")
    return _HEADER.pack(t, 0, 0, rid, len(payload)) + bytes(payload)


def end_frame(rid, _pack=_HEADER.pack):
    """RESPONSE_END for ``rid`` (hot path: no checks beyond struct's own range check)."""
    return _pack(RESPONSE_END, 0, 0, rid, 0)


class Frame:
    __slots__ = ("type", "flags", "id", "payload")

    def __init__(self, t, flags, rid, payload):
        self.type = t
        self.flags = flags
        self.id = rid
        self.payload = payload

    def __repr__(self):
        return "Frame(%s, id=%d, %d bytes)" % (type_name(self.type), self.id, len(self.payload))


def _fast_rules(sender):
    """type -> (min, max, id must be 0) for the types ``sender`` may send; None for a
    scope where either is fine (LOG). A frame outside these goes through _check."""
    return {t: (lo, hi, {"conn": True, "req": False}.get(scope))
            for t, (scope, lo, hi) in _RULES.items()
            if sender == "any" or ("worker" if t & 0x80 else "node") == sender}


class FrameDecoder:
    """Incremental: push() any split of the stream, get whole frames; fails for good."""

    def __init__(self, sender="any"):
        self.sender = sender
        self._rules = _fast_rules(sender)
        self._buf = bytearray()
        self._failed = None

    @property
    def pending(self):
        return len(self._buf)

    def push(self, data):
        return [Frame(t, 0, rid, payload) for t, rid, payload in self.push_raw(data)]

    def push_raw(self, data):
        """As push(), but each frame as a (type, request id, payload bytes) tuple (flags
        are always 0): the worker's reader takes this path."""
        if self._failed is not None:
            raise self._failed
        if self._buf:
            self._buf += data
            buf = self._buf
        else:
            buf = data  # fast path: nothing pending, slice frames straight out of data
        out = []
        off = 0
        n = len(buf)
        unpack = _HEADER.unpack_from
        rules = self._rules
        try:
            while n - off >= HEADER_SIZE:
                t, flags, reserved, rid, length = unpack(buf, off)
                if reserved != 0:
                    raise ProtocolError("BAD_RESERVED", "reserved bytes 0x%x" % reserved)
                rule = rules.get(t)
                if rule is None or flags or length > rule[1] or length < rule[0] or (rid == 0) is not rule[2]:
                    _check(t, flags, rid, length, self.sender)  # raises, unless the id may be either
                end = off + HEADER_SIZE + length
                if end > n:
                    break
                out.append((t, rid, bytes(buf[off + HEADER_SIZE:end])))
                off = end
        except ProtocolError as err:
            self._failed = err
            raise
        if buf is self._buf:
            if off:
                del buf[:off]
        elif off < n:
            self._buf = bytearray(buf[off:])
        return out


class _Reader:
    __slots__ = ("buf", "off", "what")

    def __init__(self, buf, what):
        self.buf = buf
        self.off = 0
        self.what = what

    def need(self, n):
        if self.off + n > len(self.buf):
            raise ProtocolError("TRUNCATED", "%s ends inside a field at byte %d" % (self.what, self.off))

    def fixed(self, st):
        self.need(st.size)
        v = st.unpack_from(self.buf, self.off)
        self.off += st.size
        return v

    def end(self):
        if self.off != len(self.buf):
            raise ProtocolError(
                "TRAILING_BYTES", "%d bytes after the last field of %s" % (len(self.buf) - self.off, self.what))


# ---- REQUEST


_REQUEST_FIELDS = ("method", "url_scheme", "server_protocol", "target", "path", "query",
                   "script_name", "remote_addr", "server_name", "body_file", "remote_port",
                   "server_port", "headers", "body_length", "body_mode", "body")
_tuple_new = tuple.__new__


class Request(namedtuple("Request", _REQUEST_FIELDS)):
    """Decoded REQUEST metadata, an immutable record: decode_request builds it in one step
    from the decoded strings (the first ten in wire order). Strings are latin-1 native
    strings (body_file: a path); headers is a list of (name, value) pairs."""

    __slots__ = ()

    def __new__(cls, method, url_scheme, server_protocol, target, path, query, remote_addr,
                remote_port, server_name, server_port, headers, body_length, body_mode,
                script_name="", body_file="", body=b""):
        return _tuple_new(cls, (method, url_scheme, server_protocol, target, path, query,
                                script_name, remote_addr, server_name, body_file, remote_port,
                                server_port, headers, body_length, body_mode, body))


_MAX_U53 = 2 ** 53 - 1
_req_structs = {}


def _request_struct(count):
    """The fixed fields and the length table of a REQUEST with ``count`` headers, as one
    struct (cached: requests repeat their header counts)."""
    st = _req_structs.get(count)
    if st is None:
        st = struct.Struct(">BBHHHQ%dH" % (10 + 2 * count))
        if len(_req_structs) < 256:
            _req_structs[count] = st
    return st


def request_layout(payload):
    """Check a REQUEST payload (bytes) and locate its parts: (values, text, body offset),
    where values = (mode, reserved, remote port, server port, header count, body length,
    then the 10 + 2N string lengths) and text = all the strings as one latin-1 str.

    One unpack of the fixed fields and the length table, one decode of all the strings:
    decode_request and environ.request_environ slice the strings out of ``text``."""
    n = len(payload)
    if n < 16:
        raise ProtocolError("TRUNCATED", "REQUEST ends inside a field at byte 0")
    count = payload[6] << 8 | payload[7]
    if count > MAX_HEADERS:
        _refuse_request(payload)
    st = _req_structs.get(count) or _request_struct(count)
    off = st.size
    if off > n:
        _refuse_request(payload)
    vals = st.unpack_from(payload)
    mode = vals[0]
    blen = vals[5]
    if mode > 2 or vals[1] or blen > _MAX_U53:
        _refuse_request(payload)
    start = off
    off += sum(vals[6:])
    if off > n:
        raise ProtocolError("TRUNCATED", "REQUEST ends inside its strings")
    if (n - off != blen) if mode == BODY_INLINE else (n != off):
        raise ProtocolError("BAD_VALUE", "REQUEST carries %d body bytes, body length %d, mode %d"
                            % (n - off, blen, mode))
    return vals, payload[start:off].decode("latin-1"), off


def body_file_path(mode, raw):
    """The FILE-mode body path from its latin-1 string field (UTF-8 on the wire)."""
    path = raw.encode("latin-1").decode("utf-8", "surrogateescape") if raw else raw
    if (mode == BODY_FILE) != (path != ""):
        raise ProtocolError("BAD_VALUE", "REQUEST body file and mode disagree")
    return path


def decode_request(payload):
    """Decode a REQUEST payload (bytes) into a Request (the reference decoder; the
    worker's hot path builds the environ straight from request_layout)."""
    vals, text, off = request_layout(payload)
    mode, _, rport, sport, _, blen = vals[:6]
    # The ten fixed strings in wire order, then the header fields: one slice per length.
    strs = []
    add = strs.append
    b = 0
    for length in vals[6:]:
        a = b
        b += length
        add(text[a:b])
    (method, scheme, protocol, target, path, query, script_name, remote_addr, server_name,
     body_file) = strs[:10]
    body_file = body_file_path(mode, body_file)
    it = iter(strs[10:])
    return _tuple_new(Request, (method, scheme, protocol, target, path, query, script_name,
                                remote_addr, server_name, body_file, rport, sport,
                                list(zip(it, it)), blen, mode, payload[off:] if off < len(payload) else b""))


def _refuse_request(payload):
    """Raise the first fault of a REQUEST whose fixed part or length table is wrong, in
    the order the TypeScript codec checks them."""
    mode, reserved, rport, sport, count, blen = _REQ_FIXED.unpack_from(payload)
    if mode > 2:
        raise ProtocolError("BAD_VALUE", "REQUEST body mode %d" % mode)
    if reserved != 0:
        raise ProtocolError("BAD_VALUE", "REQUEST reserved byte not 0")
    if count > MAX_HEADERS:
        raise ProtocolError("TOO_MANY_HEADERS", "%d header fields (max %d)" % (count, MAX_HEADERS))
    if blen > _MAX_U53:
        raise ProtocolError("BAD_VALUE", "REQUEST body length above 2^53-1")
    raise ProtocolError("TRUNCATED", "REQUEST ends inside its length table")


def encode_request(rid, req, body=b""):
    """Node's encoder, mirrored for tests and golden vectors."""
    if len(req.headers) > MAX_HEADERS:
        raise ProtocolError("TOO_MANY_HEADERS", "%d header fields" % len(req.headers))
    strs = [req.method, req.url_scheme, req.server_protocol, req.target, req.path, req.query,
            req.script_name, req.remote_addr, req.server_name]
    for name, value in req.headers:
        strs.append(name)
        strs.append(value)
    enc = _encode_all(strs, "REQUEST field")
    enc.insert(9, req.body_file.encode("utf-8", "surrogateescape"))
    _check_lengths(enc)
    fixed = _REQ_FIXED.pack(req.body_mode, 0, req.remote_port, req.server_port, len(req.headers),
                            req.body_length)
    return encode_frame(REQUEST, rid, b"".join(
        [fixed, _table(len(enc)).pack(*map(len, enc))] + enc + [body]))


def _encode_all(strs, what):
    try:
        return [x.encode("latin-1") for x in strs]
    except UnicodeEncodeError:
        raise ProtocolError("NOT_LATIN1", "%s has a character above U+00FF" % what) from None


def _check_lengths(enc):
    for b in enc:
        if len(b) > MAX_STRING:
            raise ProtocolError("STRING_TOO_LONG", "field of %d bytes (max %d)" % (len(b), MAX_STRING))


# ---- RESPONSE_HEAD


def encode_response_head(rid, status, reason, headers):
    """headers: (name, value) native strings, already validated by the caller."""
    if not 0 < rid <= 0xFFFFFFFF:
        raise ProtocolError("BAD_REQUEST_ID", "RESPONSE_HEAD with request id %d" % rid)
    payload = encode_response_head_payload(status, reason, headers)
    return _HEADER.pack(RESPONSE_HEAD, 0, 0, rid, len(payload)) + payload


def encode_response_head_payload(status, reason, headers):
    """The RESPONSE_HEAD payload alone: the worker caches it per distinct head."""
    if len(headers) > MAX_HEADERS:
        raise ProtocolError("TOO_MANY_HEADERS", "%d header fields (max %d)" % (len(headers), MAX_HEADERS))
    if not 100 <= status <= 999:
        raise ProtocolError("BAD_VALUE", "status %d" % status)
    strs = [reason]
    for name, value in headers:
        strs.append(name)
        strs.append(value)
    enc = _encode_all(strs, "response status or header")
    lens = list(map(len, enc))
    if max(lens) > MAX_STRING:
        _check_lengths(enc)
    length = 4 + 2 * len(enc) + sum(lens)
    if length > MAX_PAYLOAD:
        raise ProtocolError("PAYLOAD_TOO_LARGE", "RESPONSE_HEAD of %d bytes" % length)
    return b"".join([_HEAD_FIXED.pack(status, len(headers)), _table(len(enc)).pack(*lens)] + enc)


def head_frame_header(rid, length, _pack=_HEADER.pack):
    """Header of a RESPONSE_HEAD frame whose payload came from encode_response_head_payload
    (hot path: ``rid`` is a decoded request id, ``length`` within MAX_PAYLOAD)."""
    return _pack(RESPONSE_HEAD, 0, 0, rid, length)


def body_frame_header(rid, length, _pack=_HEADER.pack):
    """Header of one RESPONSE_BODY frame of at most MAX_CHUNK bytes (hot path, as above)."""
    return _pack(RESPONSE_BODY, 0, 0, rid, length)


def decode_response_head(payload):
    r = _Reader(payload, "RESPONSE_HEAD")
    status, count = r.fixed(_HEAD_FIXED)
    if not 100 <= status <= 999:
        raise ProtocolError("BAD_VALUE", "RESPONSE_HEAD status %d" % status)
    if count > MAX_HEADERS:
        raise ProtocolError("TOO_MANY_HEADERS", "%d header fields (max %d)" % (count, MAX_HEADERS))
    k = 1 + 2 * count
    table_end = 4 + 2 * k
    if table_end > len(payload):
        raise ProtocolError("TRUNCATED", "RESPONSE_HEAD ends inside its length table")
    offs = list(accumulate(_table(k).unpack_from(payload, 4), initial=table_end))
    if offs[-1] > len(payload):
        raise ProtocolError("TRUNCATED", "RESPONSE_HEAD ends inside its strings")
    if offs[-1] != len(payload):
        raise ProtocolError("TRAILING_BYTES", "%d bytes after the last field of RESPONSE_HEAD"
                            % (len(payload) - offs[-1]))
    text = bytes(payload).decode("latin-1")
    strs = [text[a:b] for a, b in zip(offs, offs[1:])]
    return status, strs[0], list(zip(strs[1::2], strs[2::2]))


# ---- small binary payloads


def encode_response_file(rid, pid, fd, offset, length):
    return encode_frame(RESPONSE_FILE, rid, _FILE.pack(pid, fd, offset, length))


def decode_response_file(payload):
    r = _Reader(payload, "RESPONSE_FILE")
    pid, fd, offset, length = r.fixed(_FILE)
    r.end()
    if offset > 2 ** 53 - 1 or length > 2 ** 53 - 1:
        raise ProtocolError("BAD_VALUE", "RESPONSE_FILE offset or length above 2^53-1")
    return pid, fd, offset, length


def encode_file_ack(rid, ok):
    return encode_frame(FILE_ACK, rid, b"\x01" if ok else b"\x00")


def decode_file_ack(payload):
    if len(payload) != 1 or payload[0] > 1:
        raise ProtocolError("BAD_VALUE", "FILE_ACK is not 0 or 1")
    return payload[0] == 1


def body_frames(t, rid, chunk):
    """BODY / RESPONSE_BODY frames for one chunk, split every MAX_CHUNK bytes."""
    n = len(chunk)
    if n <= MAX_CHUNK:
        return [_HEADER.pack(t, 0, 0, rid, n), chunk]
    out = []
    mv = memoryview(chunk)
    for off in range(0, n, MAX_CHUNK):
        piece = mv[off:off + MAX_CHUNK]
        out.append(_HEADER.pack(t, 0, 0, rid, len(piece)))
        out.append(piece)
    return out


# ---- JSON control payloads (compact, key order as given: byte-identical to JSON.stringify)


def encode_json(t, rid, obj):
    payload = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise ProtocolError("PAYLOAD_TOO_LARGE", "control payload of %d bytes" % len(payload))
    return encode_frame(t, rid, payload)


_JSON_FIELDS = {
    HELLO: {"protocol": int, "pid": int, "python": str, "app": str, "threads": int},
    BOOT_ERROR: {"reason": str, "traceback": str},
    APP_ERROR: {"reason": str, "traceback": str},
    LOG: {"level": str, "message": str},
    STACK: {"thread": str, "stack": str},
    FORK: {"connect": str},
    FORKED: {"pid": int},
    CHILD_EXIT: {"pid": int},
}


def decode_json(t, payload):
    name = type_name(t)
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except ValueError:
        raise ProtocolError("BAD_JSON", "%s payload is not JSON" % name) from None
    if not isinstance(obj, dict):
        raise ProtocolError("BAD_JSON", "%s payload is not a JSON object" % name)
    for key, kind in _JSON_FIELDS.get(t, {}).items():
        v = obj.get(key)
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise ProtocolError("BAD_JSON", "%s.%s is not a %s" % (name, key, kind.__name__))
    if t == HELLO and obj["protocol"] != PROTOCOL_VERSION:
        raise ProtocolError("BAD_VALUE", "protocol %r, expected %d" % (obj["protocol"], PROTOCOL_VERSION))
    if t == LOG and obj["level"] not in ("debug", "info", "warning", "error", "critical"):
        raise ProtocolError("BAD_JSON", "LOG level %r" % obj["level"])
    return obj


def truncate_text(s, limit=256 * 1024):
    """Keep the end of a long traceback (the part that names the error) under the JSON cap."""
    if len(s) <= limit:
        return s
    return "... [%d characters cut]\n" % (len(s) - limit) + s[-limit:]
