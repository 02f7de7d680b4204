"""--preload: a zygote imports the app once, then forks workers on Node's demand, so the
workers share the app's code pages copy-on-write (Gunicorn's --preload).

The zygote talks to Node on its own socket (fd 3): HELLO once the app is imported (or
BOOT_ERROR), then FORK {"connect": PATH} -> FORKED {"pid": N}, CHILD_EXIT when it reaps a
worker, PING -> PONG, SHUTDOWN -> exit 0. Each forked worker connects to Node's UNIX
socket PATH and speaks the ordinary per-worker protocol there, starting with HELLO.

The zygote stays single-threaded (select on fd 3 and a SIGCHLD wake-up pipe), so fork()
never copies a lock held by another thread.
"""

import gc
import os
import platform
import select
import signal
import sys
import traceback

from . import protocol as P
from .worker import Channel, Worker


class Zygote:
    def __init__(self, channel, app, spec, threads=1, name=""):
        self.channel = channel
        self.app = app
        self.spec = spec
        self.threads = threads
        self.name = name
        self.decoder = P.FrameDecoder("node")

    def send(self, frame):
        self.channel.send([frame])

    def serve(self):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(wake_w)
        self.send(P.encode_json(P.HELLO, 0, {
            "protocol": P.PROTOCOL_VERSION, "pid": os.getpid(), "python": platform.python_version(),
            "app": self.spec, "threads": self.threads, "preload": True,
        }))
        fd = self.channel.fd
        try:
            while True:
                ready, _, _ = select.select([fd, wake_r], [], [], 1.0)
                if wake_r in ready:
                    os.read(wake_r, 512)
                self._reap()
                if fd not in ready:
                    continue
                data = os.read(fd, 65536)
                if not data:
                    return 0  # Node went away; each worker sees its own EOF and exits
                for f in self.decoder.push(data):
                    if f.type == P.PING:
                        self.send(P.encode_frame(P.PONG, 0, f.payload))
                    elif f.type == P.FORK:
                        path = P.decode_json(P.FORK, f.payload)["connect"]
                        self.send(P.encode_json(P.FORKED, 0, {"pid": self._fork(path, fd, wake_r, wake_w)}))
                    elif f.type == P.SHUTDOWN:
                        return 0
                    else:
                        raise P.ProtocolError("BAD_DIRECTION", "%s sent to a preload zygote" % P.type_name(f.type))
        finally:
            signal.set_wakeup_fd(-1)

    def _reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if os.WIFSIGNALED(status):
                code, sig = None, signal.Signals(os.WTERMSIG(status)).name
            else:
                code, sig = os.WEXITSTATUS(status), None
            self.send(P.encode_json(P.CHILD_EXIT, 0, {"pid": pid, "code": code, "signal": sig}))

    def _fork(self, path, control_fd, wake_r, wake_w):
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything imported so far goes to the permanent generation: the children's
        # collections then never write to those objects' headers, so their pages stay
        # shared instead of being copied on the first gc pass (CPython >= 3.7).
        gc.collect()
        gc.freeze()
        pid = os.fork()
        if pid:
            return pid
        # The worker: nothing of the zygote's plumbing survives, then the usual serve loop.
        code = 3
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for f in (control_fd, wake_r, wake_w):
                os.close(f)
            worker = Worker(Channel.connect(path), self.app, self.spec, threads=self.threads, name=self.name)
            code = worker.serve()
        except BaseException:  # noqa: B902 - report, never return into the zygote's loop
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
