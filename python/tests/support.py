"""Helpers for the worker tests: requests, a peer end of the socketpair, a spawned worker."""
import os
import select
import socket
import subprocess
import sys
import time

from narwhal_worker import protocol as P

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS_DIR = os.path.join(PYTHON_DIR, "tests", "apps")
REPO = os.path.dirname(PYTHON_DIR)
VECTORS = os.path.join(REPO, "test", "fixtures", "protocol", "vectors.json")


def make_request(**kw):
    fields = dict(method="GET", url_scheme="http", server_protocol="HTTP/1.1", target="/",
                  path="/", query="", script_name="", remote_addr="127.0.0.1",
                  remote_port=40000, server_name="localhost", server_port=8000,
                  headers=[("Host", "localhost:8000")], body_length=0,
                  body_mode=P.BODY_INLINE, body_file="", body=b"")
    fields.update(kw)
    if "target" not in kw:
        fields["target"] = fields["path"] + ("?" + fields["query"] if fields["query"] else "")
    return P.Request(**fields)


class Peer:
    """Node's end of a socketpair: send frames, receive decoded frames with a deadline."""

    def __init__(self, sock):
        self.sock = sock
        self.decoder = P.FrameDecoder("worker")
        self.frames = []

    def send(self, data):
        self.sock.sendall(data)

    def request(self, rid, req):
        self.send(P.encode_request(rid, req, req.body if req.body_mode == P.BODY_INLINE else b""))

    def next(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame from the worker within %ss" % timeout)
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise EOFError("worker closed the socket")
                self.frames.extend(self.decoder.push(data))
        return self.frames.pop(0)

    def until_terminal(self, rid, timeout=10.0):
        """Frames for ``rid`` up to and including its terminal frame (others are kept)."""
        mine, others = [], []
        deadline = time.monotonic() + timeout
        while True:
            f = self.next(max(0.01, deadline - time.monotonic()))
            if f.id != rid:
                others.append(f)
                continue
            mine.append(f)
            if f.type in (P.RESPONSE_END, P.APP_ERROR):
                self.frames[:0] = others
                return mine


def response(frames):
    """(status, reason, headers, body, terminal type) from one request's frames."""
    status = reason = None
    headers = []
    body = b""
    for f in frames:
        if f.type == P.RESPONSE_HEAD:
            status, reason, headers = P.decode_response_head(f.payload)
        elif f.type == P.RESPONSE_BODY:
            body += f.payload
    return status, reason, headers, body, frames[-1].type


class SpawnedWorker:
    """``python -m narwhal_worker`` with the child end of a socketpair as fd 3."""

    def __init__(self, spec, *args, env=None, fd3=False):
        parent, child = socket.socketpair()
        self.peer = Peer(parent)
        e = dict(os.environ)
        e["PYTHONPATH"] = PYTHON_DIR
        e.update(env or {})
        child_fd = child.fileno()
        if fd3:
            # Exactly as Node does it: the socket is the child's fd 3, no --fd argument.
            cmd = ["/bin/sh", "-c", 'exec "$0" "$@" 3<&%d %d<&-' % (child_fd, child_fd),
                   sys.executable, "-m", "narwhal_worker", "--pythonpath", APPS_DIR, *args, spec]
        else:
            cmd = [sys.executable, "-m", "narwhal_worker", "--fd", str(child_fd),
                   "--pythonpath", APPS_DIR, *args, spec]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(child_fd,), env=e, cwd=REPO)
        child.close()

    def hello(self):
        f = self.peer.next(20)
        return f

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        out, err = self.proc.communicate()
        self.peer.sock.close()
        return out, err
