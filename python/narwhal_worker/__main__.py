"""python -m narwhal_worker [--fd N | --connect PATH] [--threads N] [--chdir DIR]
[--pythonpath DIRS] [--name NAME] [--preload] APP_MODULE
(docs/protocol.md, "Transport and command line" and "Preload").

Exit status: 0 after SHUTDOWN or EOF on the socket, 3 when the worker itself cannot
start, 4 when the app cannot be loaded (Gunicorn's APP_LOAD_ERROR). A boot failure is
reported in a BOOT_ERROR frame and as a traceback on stderr.
"""

import argparse
import faulthandler
import os
import signal
import sys
import traceback

from . import protocol as P

EXIT_WORKER_BOOT = 3
EXIT_APP_LOAD = 4


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(message)


def parse_args(argv):
    p = _Parser(prog="python -m narwhal_worker", add_help=False)
    p.add_argument("--fd", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--chdir", default=None)
    p.add_argument("--pythonpath", default=None)
    p.add_argument("--name", default="")
    p.add_argument("--connect", default=None)
    p.add_argument("--preload", action="store_true")
    p.add_argument("--sched-other", action="store_true")
    p.add_argument("app")
    args = p.parse_args(argv)
    if args.threads < 1:
        raise _Usage("--threads must be at least 1")
    return args


def reset_sched():
    """--sched-other: leave the SCHED_BATCH policy inherited from a master that runs its
    event loop under it (docs/architecture.md), so the app is scheduled as usual. Any other
    policy was set by the operator and stays. Needs no privilege; done before any thread
    starts, since threads inherit the policy of the thread that creates them."""
    if not hasattr(os, "sched_getscheduler") or not hasattr(os, "SCHED_BATCH"):
        return
    try:
        if os.sched_getscheduler(0) == os.SCHED_BATCH:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except OSError:
        pass  # seccomp or an exotic kernel: the app runs under BATCH, which is only slower


def _fd_from(argv):
    for i, a in enumerate(argv):
        if a == "--fd" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--fd="):
            return int(a[5:])
    return 3


def _boot_error(channel, reason, tb, code):
    sys.stderr.write(tb if tb.endswith("\n") else tb + "\n")
    sys.stderr.flush()
    if channel is not None:
        channel.send([P.encode_json(P.BOOT_ERROR, 0, {
            "reason": reason[:1000], "traceback": P.truncate_text(tb)})])
    return code


def main(argv=None):
    # Ctrl-C in a terminal signals the whole process group: Node decides how to stop. The
    # same for the arbiter's own signals (HUP reload, TTIN/TTOU, USR2, WINCH) when they
    # reach the whole group: HUP or USR2 would kill a worker, TTIN/TTOU stop it.
    for name in ("SIGINT", "SIGHUP", "SIGTTIN", "SIGTTOU", "SIGUSR2", "SIGWINCH"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    # Node's fallback stack dump for a thread that holds the GIL (docs/protocol.md).
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    try:
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass

    from .worker import Channel, Worker, flush_std

    argv = sys.argv[1:] if argv is None else argv
    channel = None
    try:
        args = parse_args(argv)
        channel = Channel.connect(args.connect) if args.connect else Channel(args.fd)
    except (_Usage, OSError, ValueError) as err:
        reason = "narwhal_worker: %s" % err
        if channel is None and isinstance(err, _Usage):
            try:  # still tell Node why, on the socket it gave us
                channel = Channel(_fd_from(argv))
            except (OSError, ValueError):
                channel = None
        return _boot_error(channel, reason, reason, EXIT_WORKER_BOOT)
    if args.sched_other:
        reset_sched()

    try:
        if args.chdir:
            os.chdir(args.chdir)
            sys.path.insert(0, os.getcwd())  # as Gunicorn: --chdir makes the app importable
        elif os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        if args.pythonpath:
            for path in reversed([p for p in args.pythonpath.split(",") if p]):
                sys.path.insert(0, os.path.abspath(path))
        from .loader import AppLoadError, load_app

        try:
            app = load_app(args.app)
        except AppLoadError as err:
            return _boot_error(channel, str(err), str(err), EXIT_APP_LOAD)
    except BaseException as err:  # noqa: B902 - import errors, SystemExit in the app module...
        tb = traceback.format_exc()
        lines = traceback.format_exception_only(type(err), err)
        reason = lines[-1].strip() if lines else type(err).__name__
        return _boot_error(channel, reason, tb, EXIT_APP_LOAD)

    if args.preload:
        from .preload import Zygote

        worker = Zygote(channel, app, args.app, threads=args.threads, name=args.name)
    else:
        worker = Worker(channel, app, args.app, threads=args.threads, name=args.name)
    try:
        code = worker.serve()
    except P.ProtocolError as err:
        sys.stderr.write("narwhal_worker: %s\n" % err)
        code = EXIT_WORKER_BOOT
    flush_std()
    return code


if __name__ == "__main__":
    sys.exit(main())
