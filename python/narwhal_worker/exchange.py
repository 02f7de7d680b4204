"""One request on one app thread: environ, start_response, iterate, close, terminal frame.

Frames out, in order: RESPONSE_HEAD (once the first non-empty chunk is ready or the
iterable is exhausted, PEP 3333), RESPONSE_BODY per chunk as the app yields it (or
RESPONSE_FILE for wsgi.file_wrapper), then exactly one terminal frame: RESPONSE_END, or
APP_ERROR when the app failed (Node answers 500, or cuts the response if already begun).
"""

import io
import os
import stat
import sys
import threading
import traceback

from . import protocol as P
from .environ import build_environ, make_input
from .response import FileWrapper, InvalidResponse, check_response

# Small outputs are gathered and written once (head + body + end in one syscall).
_COALESCE = 64 * 1024
# Iterators over a sequence already in memory (a list or tuple, and what Django's
# HttpResponse.__iter__ returns): nothing is gained by sending their chunks one by one.
_IN_MEMORY = (type(iter([])), type(iter(())))
_get_ident = threading.get_ident
# Frame headers on the hot path, packed here rather than through protocol's helpers (one
# Python call less each): ``rid`` is a decoded request id and lengths are within the caps.
_pack = P._HEADER.pack  # noqa: SLF001
_HEAD, _BODY, _END, _HSIZE = P.RESPONSE_HEAD, P.RESPONSE_BODY, P.RESPONSE_END, P.HEADER_SIZE
_BytesIO = io.BytesIO
_INLINE = P.BODY_INLINE


def _content_length(headers):
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value.strip(" \t"))  # validated by check_headers
    return None


def error_report(exc):
    reason = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"reason": (reason[-1] if reason else type(exc).__name__)[:1000],
            "traceback": P.truncate_text(tb)}


class Exchange:
    __slots__ = ("worker", "rid", "req", "environ", "input", "aborted", "thread_ident",
                 "_status", "_sent", "_out", "_outlen", "_ack", "_ack_ok")

    def __init__(self, worker, rid, req, environ=None):
        """``req``: a protocol.Request, or the RequestBody of an ``environ`` already built
        by environ.request_environ (the worker's path: wsgi.input is added by run())."""
        self.worker = worker
        self.rid = rid
        self.req = req
        self.environ = environ
        self.input = None
        self.aborted = False
        self.thread_ident = None
        self._status = None  # response.Head once start_response succeeded
        self._sent = False  # RESPONSE_HEAD written
        self._out = []
        self._outlen = 0
        self._ack = None
        self._ack_ok = False

    # ---- called by the reader thread

    def abort(self):
        self.aborted = True
        inp = self.input
        if inp is not None and hasattr(inp, "abort"):
            inp.abort()
        ack = self._ack
        if ack is not None:
            ack.set()

    def file_ack(self, ok):
        ack = self._ack
        if ack is not None:
            self._ack_ok = ok
            ack.set()

    # ---- start_response and write (PEP 3333)

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self._sent:
                    # Too late to change the response: re-raise so the app unwinds.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self._status is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        self._status = check_response(status, headers)
        return self.write

    def write(self, data):
        """The legacy write() callable: unbuffered, so it flushes what is pending."""
        if self._status is None:
            raise AssertionError("write() before start_response()")
        if not isinstance(data, bytes):
            raise TypeError("write() argument must be bytes, not %s" % type(data).__name__)
        self._body(data)
        self._flush()

    # ---- output

    def _head(self):
        if not self._sent:
            self._sent = True
            head = self._status
            payload = head.payload
            if payload is None:
                payload = head.payload = P.encode_response_head_payload(head.code, head.reason, head.headers)
            n = len(payload)
            self._out += (_pack(_HEAD, 0, 0, self.rid, n), payload)
            self._outlen += _HSIZE + n

    def _body(self, data):
        if self.aborted:
            return
        if not self._sent:
            self._head()
        if data:
            for piece in P.body_frames(P.RESPONSE_BODY, self.rid, data):
                self._queue(piece)

    def _queue(self, b):
        self._out.append(b)
        self._outlen += len(b)

    def _flush(self):
        if self._out:
            out = self._out
            self._out = []
            self._outlen = 0
            if not self.aborted:
                self.worker.send(out)

    # ---- the request

    def run(self):
        self.thread_ident = _get_ident()
        worker = self.worker
        result = None
        terminal = None
        if self.aborted:
            # The client left while the request waited for a thread: never call the app.
            worker.finish(self, [P.end_frame(self.rid)])
            return
        try:
            if self.input is None:  # FRAMES mode: the reader thread made it already
                req = self.req
                self.input = _BytesIO(req.body) if req.body_mode == _INLINE else make_input(req)
            environ = self.environ
            if environ is None:
                environ = build_environ(worker.base_environ, self.req, self.input)
            else:
                environ["wsgi.input"] = self.input
            result = worker.app(environ, self.start_response)
            if type(result) is list:
                self._complete(result)
            elif isinstance(result, FileWrapper) and self._hand_off(result):
                pass
            else:
                it = iter(result)
                if type(it) in _IN_MEMORY:
                    self._complete(list(it))
                else:
                    self._iterate(it, True)
            if not self._sent and not self.aborted:
                if self._status is None:
                    raise InvalidResponse("the application returned without calling start_response()")
                self._head()
        except BaseException as exc:  # noqa: B902 - any app failure becomes APP_ERROR
            terminal = P.encode_json(P.APP_ERROR, self.rid, error_report(exc))
            self._out = []  # a half-built response is dropped; Node answers 500
            self._outlen = 0
        finally:
            if result is not None and type(result) is not list and hasattr(result, "close"):
                try:
                    result.close()
                except BaseException as exc:  # noqa: B902
                    # Logged, not fatal: the response itself is complete.
                    log = P.encode_json(P.LOG, self.rid, {"level": "error", "message": P.truncate_text(
                        "Error closing the response iterable:\n" + error_report(exc)["traceback"])})
                    if self.aborted or terminal is not None:
                        worker.send([log])
                    else:
                        self._queue(log)
            if self.input is not None:
                try:
                    self.input.close()
                except OSError:
                    pass
        # Exactly one terminal frame, sent even after ABORT: Node waits for it.
        out = [] if self.aborted else self._out
        self._out = []
        out.append(_pack(_END, 0, 0, self.rid, 0) if terminal is None else terminal)
        worker.finish(self, out)

    def _complete(self, chunks):
        """A response already in memory (a list of bytes, the common case): small ones go
        out with the terminal frame, head + body + end in one write."""
        if self._status is None or self._sent or self.aborted:
            self._iterate(chunks, False)
            return
        total = 0
        for chunk in chunks:
            if type(chunk) is not bytes and not isinstance(chunk, bytes):
                raise TypeError("the application yielded %s, not bytes" % type(chunk).__name__)
            total += len(chunk)
        if total > _COALESCE:
            self._iterate(chunks, False)
            return
        self._head()
        if total:
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self._out += (_pack(_BODY, 0, 0, self.rid, total), body)
            self._outlen += _HSIZE + total

    def _iterate(self, result, streaming):
        """Send the chunks as the app yields them (``streaming``), or gather a complete
        response and write it in pieces of _COALESCE bytes."""
        for chunk in result:
            if self.aborted:
                break
            if not isinstance(chunk, bytes):  # PEP 3333: bytestrings only (a str is a bug)
                raise TypeError("the application yielded %s, not bytes" % type(chunk).__name__)
            if not chunk:
                continue
            if self._status is None:
                raise AssertionError("the application yielded data before start_response()")
            self._body(chunk)
            if streaming or self._outlen >= _COALESCE:
                self._flush()
        if self.aborted:
            self._out = []
            self._outlen = 0

    def _hand_off(self, wrapper):
        """Send a regular file by reference (RESPONSE_FILE); False = iterate it instead."""
        if self._status is None or self.aborted:
            return False
        f = wrapper.filelike
        try:
            fd = f.fileno()
            st = os.fstat(fd)
            offset = f.tell() if hasattr(f, "tell") else os.lseek(fd, 0, os.SEEK_CUR)
        except (AttributeError, OSError, ValueError):
            return False
        if not stat.S_ISREG(st.st_mode) or offset < 0:
            return False
        length = max(0, st.st_size - offset)
        declared = _content_length(self._status.headers)
        if declared is not None and declared < length:
            length = declared  # never hand Node more than the response says it carries
        self._head()
        self._ack = threading.Event()
        self._queue(P.encode_response_file(self.rid, self.worker.pid, fd, offset, length))
        self._flush()
        # Keep the descriptor open until Node has its own (FILE_ACK) or the client left.
        self.worker.need_reader()
        while not self._ack.wait(1.0):
            if self.aborted or self.worker.closing:
                return True
        if self.aborted or self._ack_ok:
            return True
        # Node could not open it (not Linux...): stream [offset, offset+length) ourselves.
        remaining = length
        f.seek(offset)
        while remaining > 0 and not self.aborted:
            data = f.read(min(wrapper.blksize if wrapper.blksize > 0 else 8192, remaining))
            if not data:
                break
            remaining -= len(data)
            self._body(data)
            self._flush()
        return True


def current_stack(ident):
    """(thread name, formatted stack) of a live thread; ("", "") when it is gone."""
    frame = sys._current_frames().get(ident)
    if frame is None:
        return "", ""
    thread = threading._active.get(ident)  # noqa: SLF001 - name lookup without a scan
    return (thread.name if thread is not None else str(ident)), "".join(traceback.format_stack(frame))
