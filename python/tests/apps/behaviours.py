"""Apps exercising PEP 3333 corners; the path selects the behaviour."""
import os
import sys
import threading
import time

IMPORTED_IN = os.getpid()
barrier_lock = threading.Lock()
concurrent = {"now": 0, "max": 0}


def _marker(environ, text):
    path = environ.get("HTTP_X_MARKER")
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


class Tracked:
    """An iterable whose close() leaves a mark, yielding slowly."""

    def __init__(self, environ, chunks, delay):
        self.environ = environ
        self.chunks = chunks
        self.delay = delay

    def __iter__(self):
        for c in self.chunks:
            yield c
            time.sleep(self.delay)

    def close(self):
        _marker(self.environ, "closed")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Tracked(environ, [b"one\n", b"two\n", b"three\n"], float(environ.get("QUERY_STRING") or 0))
    if path == "/sleep":
        with barrier_lock:
            concurrent["now"] += 1
            concurrent["max"] = max(concurrent["max"], concurrent["now"])
        time.sleep(float(environ["QUERY_STRING"]))
        with barrier_lock:
            peak = concurrent["max"]
            concurrent["now"] -= 1
        body = str(peak).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/spin":
        end = time.time() + float(environ["QUERY_STRING"])
        while time.time() < end:
            pass
        start_response("200 OK", [])
        return [b"spun"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"returned"]
    if path == "/raise":
        raise ZeroDivisionError("boom in the view")
    if path == "/raise-late":
        def gen():
            yield b"partial"
            raise RuntimeError("late failure")
        start_response("200 OK", [])
        return gen()
    if path == "/exc-info":
        try:
            raise ValueError("handled")
        except ValueError:
            start_response("200 OK", [("Content-Type", "text/html"), ("X-First", "1")])
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"error page"]
    if path == "/bad-header-crlf":
        start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: x=1")])
        return [b"never"]
    if path == "/bad-header-name":
        start_response("200 OK", [("Bad Name", "v")])
        return [b"never"]
    if path == "/hop-by-hop":
        start_response("200 OK", [("Connection", "close")])
        return [b"never"]
    if path == "/bad-status":
        start_response("200OK", [])
        return [b"never"]
    if path == "/no-start":
        return [b"never"]
    if path == "/str-body":
        start_response("200 OK", [])
        return ["not bytes"]
    if path == "/file":
        f = open(environ["QUERY_STRING"], "rb")
        f.seek(int(environ.get("HTTP_X_SEEK", "0")))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 4096)
    if path == "/print":
        print("hello from print")
        sys.stderr.write("hello from stderr\n")
        start_response("204 No Content", [])
        return []
    if path == "/input":
        inp = environ["wsgi.input"]
        parts = [inp.readline(), inp.read(3), inp.readline(), inp.read()]
        body = b"|".join(parts)
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/big":
        body = b"x" * int(environ["QUERY_STRING"])
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body, b"", b"tail"]
    if path == "/pid":
        body = ("%d %d" % (os.getpid(), IMPORTED_IN)).encode()
        start_response("200 OK", [])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
