"""Small WSGI apps for the gateway tests. Each one behaves exactly as its docstring says."""
import hashlib
import os
import sys
import tempfile
import threading
import time
from urllib.parse import parse_qs


def _qs(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def app(environ, start_response):
    """Routes on PATH_INFO to the behaviours below."""
    path = environ.get("PATH_INFO", "/")
    handler = ROUTES.get(path)
    if handler is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    return handler(environ, start_response)


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
    return [b"hello\n"]


def pid(environ, start_response):
    """Answers the worker's pid (to tell workers apart)."""
    data = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def sleep(environ, start_response):
    """Sleeps ?s= seconds (at most 10), then answers its pid."""
    time.sleep(min(float(_qs(environ).get("s", "1")), 10.0))
    return pid(environ, start_response)


def digest(environ, start_response):
    """Reads wsgi.input in 64 KiB pieces; answers size and sha256 of the body."""
    h = hashlib.sha256()
    n = 0
    inp = environ["wsgi.input"]
    while True:
        chunk = inp.read(65536)
        if not chunk:
            break
        n += len(chunk)
        h.update(chunk)
    data = ("%d %s" % (n, h.hexdigest())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def stream(environ, start_response):
    """Yields ?n= chunks ?delay= seconds apart, without Content-Length."""
    q = _qs(environ)
    n = min(int(q.get("n", "5")), 1000)
    delay = min(float(q.get("delay", "0.1")), 2.0)
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        for i in range(n):
            if i:
                time.sleep(delay)
            yield ("chunk %d\n" % i).encode()

    return gen()


def big(environ, start_response):
    """?size= bytes (default 4 MiB) of a repeating pattern, with Content-Length."""
    size = min(int(_qs(environ).get("size", str(4 << 20))), 64 << 20)
    block = bytes(i % 251 for i in range(65536))
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(size))])

    def gen():
        left = size
        while left > 0:
            piece = block[: min(left, len(block))]
            left -= len(piece)
            yield piece

    return gen()


_FILE = None
_FILE_LOCK = threading.Lock()


def _sample_file():
    global _FILE
    with _FILE_LOCK:
        if _FILE is None:
            fd, path = tempfile.mkstemp(prefix="narwhal-test-file-")
            with os.fdopen(fd, "wb") as f:
                f.write(bytes(i % 253 for i in range(200000)))
            _FILE = path
    return _FILE


def file(environ, start_response):
    """A 200000-byte file through wsgi.file_wrapper (Content-Length set)."""
    path = _sample_file()
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(os.path.getsize(path)))])
    return environ["wsgi.file_wrapper"](open(path, "rb"), 8192)


def stream_crash(environ, start_response):
    """Yields one chunk, then raises: the response cannot be repaired, only cut."""
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        yield b"partial\n"
        time.sleep(0.05)
        raise RuntimeError("misc stream crash: deliberate failure mid-stream")

    return gen()


def stream_crash_now(environ, start_response):
    """Yields one chunk and raises at once: the head, the chunk and APP_ERROR often reach
    Node in one read, before the head is written (then a clean 500 is still possible)."""
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        yield b"partial\n"
        raise RuntimeError("misc stream crash now: deliberate failure")

    return gen()


def crash(environ, start_response):
    """Raises before start_response: a 500 and the traceback in the error log."""
    raise ValueError("misc crash: deliberate failure")


def printer(environ, start_response):
    """Prints to stdout and stderr (narwhal copies both into the error log)."""
    print("misc printer says hi on stdout", flush=True)
    print("misc printer says hi on stderr", file=sys.stderr, flush=True)
    return hello(environ, start_response)


def bad_header(environ, start_response):
    """A header value with CR LF in it: the server must answer 500, never split."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Evil", "a\r\nInjected: yes")])
    return [b"should not be sent\n"]


def env(environ, start_response):
    """The worker environment variable named by ?k= (for -e/--env), or "-" when unset."""
    data = os.environ.get(_qs(environ).get("k", ""), "-").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def die(environ, start_response):
    """Kills its own worker process mid-request (SIGKILL)."""
    import signal
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(5)
    return hello(environ, start_response)


ROUTES = {
    "/": hello,
    "/hello": hello,
    "/pid": pid,
    "/sleep": sleep,
    "/digest": digest,
    "/stream": stream,
    "/big": big,
    "/file": file,
    "/crash": crash,
    "/stream-crash": stream_crash,
    "/stream-crash-now": stream_crash_now,
    "/print": printer,
    "/bad-header": bad_header,
    "/die": die,
    "/env": env,
}


def create_app(greeting="made by factory", **kw):
    """A factory for APP_MODULE `misc:create_app()` and `misc:create_app('x', key=1)`."""
    body = ("%s %s\n" % (greeting, sorted(kw.items()))).encode()

    def factory_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return factory_app


# APP_MODULE `misc` alone means `misc:application`.
application = hello
