"""The PEP 3333 environ and wsgi.input, built from a decoded REQUEST frame.

Node has already parsed and validated HTTP (the worker never parses HTTP); this module
only maps fields, Gunicorn style, so that apps moving from Gunicorn see the same environ.
"""

import io
import os
import sys
import threading
from collections import namedtuple
from urllib.parse import unquote_to_bytes

from . import protocol

SERVER_SOFTWARE = "narwhal"


class ConfigurationProblem(Exception):
    """A request the deployment cannot map (Gunicorn's ConfigurationProblem -> 500)."""


def path_info(raw_path, script_name):
    """PATH_INFO: the raw path minus SCRIPT_NAME, percent-decoded to bytes, as latin-1.

    Like Gunicorn, SCRIPT_NAME is matched against the raw path before decoding (so an
    encoded "/" in the prefix cannot smuggle a match) and a path outside it is an error.
    """
    if script_name:
        if not raw_path.startswith(script_name):
            raise ConfigurationProblem(
                "Request path %r does not start with SCRIPT_NAME %r" % (raw_path, script_name))
        raw_path = raw_path[len(script_name):]
    if "%" not in raw_path:
        return raw_path
    # The raw path is a native string, one char per octet: back to those octets first
    # (unquote_to_bytes would UTF-8-encode a str), then decode the escapes.
    return unquote_to_bytes(raw_path.encode("latin-1")).decode("latin-1")


def base_environ(threads):
    """The per-worker constant part; build_environ() copies it for each request."""
    from .response import FileWrapper

    return {
        "wsgi.version": (1, 0),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": threads > 1,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.input_terminated": True,
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
        # Gunicorn takes SCRIPT_NAME from the worker's environment (-e SCRIPT_NAME=/app).
        "SCRIPT_NAME": os.environ.get("SCRIPT_NAME", ""),
    }


# Header name as sent -> environ key: clients repeat the same few names, so the upper(),
# replace() and concatenation happen once per name. Bounded; cleared when full.
_keys = {}
_KEYS_MAX = 1024


def environ_key(name):
    """The environ key of a header field: HTTP_ + name upper-cased with "-" as "_", but
    CONTENT_TYPE and CONTENT_LENGTH (not HTTP_-prefixed, PEP 3333 / CGI). They are matched
    before "-" becomes "_", as Gunicorn: a "Content_Length" field (header_map=dangerous)
    stays HTTP_CONTENT_LENGTH and can never pose as the real framing header."""
    upper = name.upper()
    if upper == "CONTENT-TYPE":
        key = "CONTENT_TYPE"
    elif upper == "CONTENT-LENGTH":
        key = "CONTENT_LENGTH"
    else:
        key = "HTTP_" + upper.replace("-", "_")
    if len(_keys) >= _KEYS_MAX:
        _keys.clear()
    _keys[name] = key
    return key


def build_environ(base, req, wsgi_input):
    env = base.copy()  # then one store per key: cheaper than a dict display merged in
    script_name = req.script_name
    if script_name:
        env["SCRIPT_NAME"] = script_name
    else:
        script_name = env["SCRIPT_NAME"]
    path = req.path
    env["REQUEST_METHOD"] = req.method
    env["PATH_INFO"] = path_info(path, script_name) if script_name or "%" in path else path
    env["QUERY_STRING"] = req.query
    env["RAW_URI"] = req.target
    env["SERVER_PROTOCOL"] = req.server_protocol
    env["SERVER_NAME"] = req.server_name
    env["SERVER_PORT"] = str(req.server_port)
    env["REMOTE_ADDR"] = req.remote_addr
    env["REMOTE_PORT"] = str(req.remote_port)
    env["wsgi.url_scheme"] = req.url_scheme or "http"
    env["wsgi.input"] = wsgi_input
    keys = _keys
    for name, value in req.headers:
        key = keys.get(name) or environ_key(name)
        if key in env and key[0] == "H":
            # Repeated fields joined with "," in wire order, as Gunicorn (RFC 9110 5.3);
            # a repeated Content-Type or Content-Length: the last one.
            env[key] += "," + value
        else:
            env[key] = value
    if req.body_length and "CONTENT_LENGTH" not in env:
        # A de-chunked body: give apps (Django, Flask) the length they need to read it.
        env["CONTENT_LENGTH"] = str(req.body_length)
    return env


class RequestBody(namedtuple("RequestBody", ("body_mode", "body_length", "body_file", "body"))):
    """The body part of a REQUEST (the fields make_input reads, as in protocol.Request)."""

    __slots__ = ()


_tuple_new = tuple.__new__
_layout = protocol.request_layout
_body_file_path = protocol.body_file_path


def request_environ(base, payload):
    """build_environ(base, decode_request(payload), ...) in one pass, without the Request:
    (environ without wsgi.input, RequestBody), or None when the path cannot be mapped
    (ConfigurationProblem: the caller takes the reference path, which raises it where
    the app would run). The worker's hot path; protocol faults raise ProtocolError."""
    vals, text, off = _layout(payload)
    mode = vals[0]
    env = base.copy()
    # The ten fixed strings in wire order (docs/protocol.md), unrolled, then the headers.
    b = vals[6]
    env["REQUEST_METHOD"] = text[:b]
    a = b
    b += vals[7]
    env["wsgi.url_scheme"] = text[a:b] or "http"
    a = b
    b += vals[8]
    env["SERVER_PROTOCOL"] = text[a:b]
    a = b
    b += vals[9]
    env["RAW_URI"] = text[a:b]
    a = b
    b += vals[10]
    path = text[a:b]
    a = b
    b += vals[11]
    env["QUERY_STRING"] = text[a:b]
    a = b
    b += vals[12]
    script_name = text[a:b]
    a = b
    b += vals[13]
    env["REMOTE_ADDR"] = text[a:b]
    a = b
    b += vals[14]
    env["SERVER_NAME"] = text[a:b]
    a = b
    b += vals[15]
    body_file = _body_file_path(mode, text[a:b])
    if script_name:
        env["SCRIPT_NAME"] = script_name
    else:
        script_name = env["SCRIPT_NAME"]
    if script_name or "%" in path:
        try:
            path = path_info(path, script_name)
        except ConfigurationProblem:
            return None
    env["PATH_INFO"] = path
    env["SERVER_PORT"] = str(vals[3])
    env["REMOTE_PORT"] = str(vals[2])
    keys = _keys
    lengths = iter(vals[16:])
    for name_len, value_len in zip(lengths, lengths):
        a = b
        b += name_len
        name = text[a:b]
        a = b
        b += value_len
        key = keys.get(name) or environ_key(name)
        if key in env and key[0] == "H":
            env[key] += "," + text[a:b]  # as build_environ
        else:
            env[key] = text[a:b]
    blen = vals[5]
    if blen and "CONTENT_LENGTH" not in env:
        env["CONTENT_LENGTH"] = str(blen)
    return env, _tuple_new(RequestBody, (mode, blen, body_file, payload[off:] if off < len(payload) else b""))


class BodyReader:
    """wsgi.input over a source of chunks, never reading past ``length`` bytes.

    read(n), readline(n), readlines(hint) and iteration, as io.BufferedReader; the
    source is a spilled temp file or BODY frames arriving from the reader thread.
    """

    def __init__(self, length):
        self._remaining = length  # bytes not yet pulled from the source
        self._buf = bytearray()

    def _pull(self, want):
        """Return up to ``want`` (> 0) new bytes from the source; b"" at the end."""
        raise NotImplementedError

    def _fill(self, want):
        if self._remaining <= 0:
            return False
        data = self._pull(min(want, self._remaining))
        if not data:
            self._remaining = 0
            return False
        data = data[:self._remaining]
        self._remaining -= len(data)
        self._buf += data
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill(1 << 16):
                pass
            size = len(self._buf)
        else:
            while len(self._buf) < size and self._fill(max(size - len(self._buf), 8192)):
                pass
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out

    def readline(self, size=-1):
        if size is None:
            size = -1
        start = 0
        while True:
            nl = self._buf.find(b"\n", start)
            if nl >= 0:
                end = nl + 1
                break
            if 0 <= size <= len(self._buf):
                end = size
                break
            start = len(self._buf)
            if not self._fill(8192):
                end = len(self._buf)
                break
        if 0 <= size < end:
            end = size
        out = bytes(self._buf[:end])
        del self._buf[:end]
        return out

    def readlines(self, hint=-1):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        pass


class FileBody(BodyReader):
    """The body Node spilled to a temp file (deleted by Node after the request)."""

    def __init__(self, path, length):
        super().__init__(length)
        self._file = open(path, "rb", buffering=0)

    def _pull(self, want):
        return self._file.read(want)

    def close(self):
        self._file.close()


class ClientGone(IOError):
    """wsgi.input read after the client went away (ABORT)."""


class StreamBody(BodyReader):
    """The body arriving in BODY frames; reads block until the bytes they need arrive."""

    def __init__(self, length, before_wait=None):
        super().__init__(length)
        self._before_wait = before_wait  # Worker.need_reader: someone must read fd 3
        self._chunks = []
        self._done = False
        self._aborted = False
        self._cond = threading.Condition(threading.Lock())

    # called by the reader thread
    def feed(self, data):
        with self._cond:
            self._chunks.append(data)
            self._cond.notify()

    def finish(self):
        with self._cond:
            self._done = True
            self._cond.notify()

    def abort(self):
        with self._cond:
            self._aborted = True
            self._cond.notify()

    # called by the app thread
    def _pull(self, want):
        if self._before_wait is not None and not self._chunks and not self._done:
            self._before_wait()
        with self._cond:
            while not self._chunks and not self._done and not self._aborted:
                self._cond.wait()
            if self._aborted:
                raise ClientGone("client disconnected while the request body was read")
            if not self._chunks:
                return b""
            data = b"".join(self._chunks)
            self._chunks = []
            return data


def make_input(req):
    if req.body_mode == protocol.BODY_INLINE:
        return io.BytesIO(req.body)
    if req.body_mode == protocol.BODY_FILE:
        return FileBody(req.body_file, req.body_length)
    return StreamBody(req.body_length)
