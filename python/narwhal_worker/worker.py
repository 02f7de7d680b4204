"""The worker loop: a leader/followers thread pool over the protocol socket (fd 3).

One thread at a time (the leader) reads and dispatches frames; app threads run requests;
one lock serialises writes, so frames never interleave. PING is answered by the leader,
so heartbeats flow even while every app thread is busy.
"""

import collections
import os
import socket
import sys
import threading
import time
import traceback

from . import protocol as P
from .environ import base_environ, request_environ
from .exchange import Exchange, current_stack

_READ_SIZE = 256 * 1024
_monotonic = time.monotonic


class Channel:
    """The protocol socket (fd 3): blocking reads by one thread, locked whole writes."""

    def __init__(self, fd):
        os.set_blocking(fd, True)  # libuv may hand the child a non-blocking descriptor
        self.fd = fd
        self.lock = threading.Lock()
        self.broken = False
        self._rbuf = bytearray(_READ_SIZE)
        self._rview = memoryview(self._rbuf)
        try:
            self.sock = socket.socket(fileno=fd)
            self.sock.setblocking(True)
            self._sendall = self.sock.sendall
        except OSError:  # not a socket (a pipe): plain writes
            self.sock = None
            self._sendall = self._write_all

    @classmethod
    def connect(cls, path):
        """A channel on Node's UNIX socket (--connect, and workers forked by --preload)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError:
            s.close()
            raise
        return cls(s.detach())

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def send(self, parts):
        """Write a list of byte strings as one unit (frames never interleave).

        Small lists are joined into one write; big ones (a large chunk) are written piece by
        piece under the lock rather than copied once more.
        """
        if len(parts) == 1:
            chunks = parts
        elif sum(map(len, parts)) <= 256 * 1024:
            chunks = [b"".join(parts)]
        else:
            chunks = parts
        with self.lock:
            if self.broken:
                return
            try:
                for data in chunks:
                    self._sendall(data)
            except OSError:
                self.broken = True  # Node is gone; the reader sees EOF and exits

    def read(self):
        """The next bytes, as a view valid until the next read() (the decoder copies out
        each frame's payload, and a partial frame, before then)."""
        # Into one preallocated buffer: os.read(fd, 256 KiB) would mmap, mremap and munmap
        # a fresh 256 KiB object on every call (three extra syscalls per request).
        buf = self._rbuf
        if self.sock is not None:
            n = self.sock.recv_into(buf)
        else:
            n = os.readv(self.fd, [buf])
        return self._rview[:n]


class _Slot:
    """One pool thread's mailbox: ``wake`` is held while the thread is idle."""

    __slots__ = ("wake", "task")

    def __init__(self):
        self.wake = threading.Lock()
        self.wake.acquire()
        self.task = None


_STANDBY_TICK = 0.01  # how long a lazy leader may run one request with fd 3 unread
_LEAD = "lead"
_EXIT = "exit"


class Worker:
    """Leader/followers pool of threads+1 threads, at most ``threads`` running the app.

    The leader is the only thread reading the socket. When it decodes a REQUEST and an
    app slot is free, it promotes an idle thread to leader and runs the request itself,
    so no thread hand-off sits between the bytes arriving and the app running. A thread
    that finishes takes the next pending request without any wake-up (pipelining). One
    thread is always left to read, so PING, ABORT, BODY and FILE_ACK are handled while
    every app thread is busy.
    """

    def __init__(self, channel, app, spec, threads=1, name=""):
        self.channel = channel
        self.app = app
        self.spec = spec
        self.threads = max(1, threads)
        self.name = name or "narwhal"
        self.pid = os.getpid()
        self.base_environ = base_environ(self.threads)
        self.exchanges = {}  # request id -> Exchange, until its terminal frame is sent
        self.inflight = 0  # REQUESTs accepted whose terminal frame is not written yet
        self.lock = threading.Lock()
        self.pending = collections.deque()  # accepted, waiting for an app slot
        self.running = 0  # exchanges being run
        self.idle = []  # _Slot of threads waiting to be woken
        # --threads 1: the reader runs the request itself and promotes the standby only
        # when the request lasts (see _thread); with more threads, promote at once so
        # concurrent requests start without delay.
        self.lazy = self.threads == 1
        self.reader_away = False  # the leader is running the app; nobody reads fd 3
        self.started = 0.0  # monotonic time the request running now started (lazy mode)
        self.closing = False  # SHUTDOWN received
        self.done = threading.Event()
        self.exit_code = 0
        self.decoder = P.FrameDecoder("node")

    def send(self, parts):
        self.channel.send(parts)

    def log(self, level, message, rid=0):
        self.send([P.encode_json(P.LOG, rid, {"level": level, "message": P.truncate_text(message)})])

    def finish(self, ex, frames):
        """Send a request's last frames, ending with its terminal frame.

        The id leaves the table before the terminal frame is written (Node may reuse it
        as soon as it reads that frame); the in-flight count drops only after the write,
        so a SHUTDOWN exit never cuts a terminal frame.
        """
        # One atomic dict operation: no lock needed. The reader's check-and-insert of this
        # id (under the lock) cannot race with it: Node reuses an id only after reading
        # the terminal frame, which is written below.
        self.exchanges.pop(ex.rid, None)
        self.channel.send(frames)
        with self.lock:
            self.inflight -= 1
            if self.closing and self.inflight == 0:
                self.done.set()

    def hello(self):
        import platform

        self.send([P.encode_json(P.HELLO, 0, {
            "protocol": P.PROTOCOL_VERSION, "pid": self.pid,
            "python": platform.python_version(), "app": self.spec, "threads": self.threads,
        })])

    def serve(self):
        """Run until EOF on the socket, or SHUTDOWN and no request in flight; exit code."""
        slots = [_Slot() for _ in range(self.threads + 1)]
        for i, slot in enumerate(slots):
            threading.Thread(target=self._thread, args=(slot,), daemon=True,
                             name="%s-%d" % (self.name, i + 1)).start()
        self.idle = slots[1:]
        self.hello()
        slots[0].task = _LEAD
        slots[0].wake.release()
        self.done.wait()
        return self.exit_code

    def _stop(self, code):
        self.exit_code = code
        self.done.set()

    def _thread(self, slot):
        lock = self.lock
        pending = self.pending
        lazy = self.lazy
        wait = _STANDBY_TICK
        while True:
            if lazy:
                if not slot.wake.acquire(timeout=wait):
                    # Standby: take over reading once the leader has been running the same
                    # request for a tick (PING, ABORT must not wait for a long request). A
                    # stream of short requests run inline is left alone: taking over would
                    # make every request that arrives wake a second thread for the GIL.
                    wait = _STANDBY_TICK
                    with lock:
                        if not self.reader_away:
                            continue
                        left = self.started + _STANDBY_TICK - _monotonic()
                        if left > 0.001:
                            wait = left  # a younger request: look again when it is a tick old
                            continue
                        self.reader_away = False
                        self.idle.remove(slot)
                    slot.task = _LEAD
            else:
                slot.wake.acquire()
            task = slot.task
            slot.task = None
            while True:
                if task is _LEAD:
                    task = self._lead()
                if task is None or task is _EXIT:
                    return
                self.started = _monotonic()
                task.run()
                with lock:
                    if pending:
                        task = pending.popleft()
                    elif self.reader_away:
                        # Nobody took over while we ran: go back to reading, no wake-up.
                        self.reader_away = False
                        self.running -= 1
                        task = _LEAD
                    else:
                        self.running -= 1
                        self.idle.append(slot)
                        break

    def need_reader(self):
        """An app thread is about to wait for bytes from Node (BODY, FILE_ACK): make sure
        someone reads the socket now rather than at the next standby tick."""
        with self.lock:
            if not self.reader_away:
                return
            self.reader_away = False
            slot = self.idle.pop()
            slot.task = _LEAD
        slot.wake.release()

    def _lead(self):
        """Read and dispatch frames until a request can run on this thread; None = exit."""
        read = self.channel.read
        lock = self.lock
        pending = self.pending
        while True:
            try:
                data = read()
            except OSError:
                data = b""
            if not data:
                self._stop(0)  # EOF: Node went away; nothing can be answered any more
                return None
            try:
                for t, rid, payload in self.decoder.push_raw(data):
                    self.dispatch(t, rid, payload)
            except P.ProtocolError as err:
                sys.stderr.write("narwhal_worker: %s\n" % err)
                self._stop(3)
                return None
            except BaseException:  # noqa: B902 - a bug here must not leave fd 3 unread
                traceback.print_exc()
                self._stop(3)
                return None
            if self.done.is_set():
                return None
            with lock:
                if not pending or self.running >= self.threads:
                    continue
                mine = pending.popleft()
                self.running += 1
                if self.lazy:
                    # One app thread: run it here and leave the socket unread meanwhile;
                    # the standby takes over after a tick, or at once via need_reader().
                    self.reader_away = True
                    return mine
                leader = self.idle.pop()
                helpers = []
                while pending and self.running < self.threads:
                    helper = self.idle.pop()
                    helper.task = pending.popleft()
                    self.running += 1
                    helpers.append(helper)
            for helper in helpers:
                helper.wake.release()
            leader.task = _LEAD
            leader.wake.release()
            return mine

    def dispatch(self, t, rid, payload):
        """Handle one frame from Node (already checked by the decoder)."""
        if t == P.REQUEST:
            built = request_environ(self.base_environ, payload)
            if self.closing:
                self.send([P.encode_json(P.APP_ERROR, rid, {
                    "reason": "worker is shutting down", "traceback": ""})])
                return
            if built is not None:
                ex = Exchange(self, rid, built[1], built[0])
            else:  # a path outside SCRIPT_NAME: run() builds the environ and raises (500)
                ex = Exchange(self, rid, P.decode_request(payload))
            req = ex.req
            if req.body_mode == P.BODY_FRAMES:
                from .environ import StreamBody

                ex.input = StreamBody(req.body_length, self.need_reader)
            with self.lock:
                if rid in self.exchanges:
                    raise P.ProtocolError("BAD_REQUEST_ID", "request id %d already in flight" % rid)
                self.exchanges[rid] = ex
                self.inflight += 1
                self.pending.append(ex)
        elif t == P.PING:
            self.send([P.encode_frame(P.PONG, 0, payload)])
        else:
            ex = self.exchanges.get(rid)
            if t == P.BODY or t == P.BODY_END:
                if ex is None:
                    return  # the request already ended (the app did not read its body)
                if ex.req.body_mode != P.BODY_FRAMES:
                    raise P.ProtocolError("BAD_VALUE", "%s for request %d whose body is not in frames"
                                          % (P.type_name(t), rid))
                if t == P.BODY:
                    ex.input.feed(payload)
                else:
                    ex.input.finish()
            elif t == P.ABORT:
                if ex is not None:
                    ex.abort()
            elif t == P.FILE_ACK:
                ok = P.decode_file_ack(payload)
                if ex is not None:
                    ex.file_ack(ok)
            elif t == P.DUMP_STACK:
                name, stack = current_stack(ex.thread_ident) if ex is not None and ex.thread_ident else ("", "")
                self.send([P.encode_json(P.STACK, rid, {"thread": name, "stack": P.truncate_text(stack)})])
            elif t == P.SHUTDOWN:
                with self.lock:
                    self.closing = True
                    if self.inflight == 0:
                        self.done.set()
            else:
                raise P.ProtocolError("BAD_VALUE", "%s sent to a worker" % P.type_name(t))


def flush_std():
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not stop the exit
            pass
