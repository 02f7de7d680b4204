"""Sets the CPU scheduling policy of narwhal's event loop when the master asks
(docs/architecture.md, "The master's scheduling policy").

Node has no binding for sched_setscheduler(2), so the master starts this helper once, as a
file with ``python -I -S`` (stdlib only, nothing from the environment), and writes one line
per change on its stdin: ``batch`` or ``other``. Each is acknowledged with the same word
on stdout. EOF (the master exited, however it died) ends the helper.

Before the first command it prints ``ready``, or ``unsupported`` (no SCHED_BATCH on this
platform) or ``kept`` (the operator gave the master a real-time or idle policy, which
stays) and exits.
"""

import os
import signal
import sys

# Signals sent to the whole process group (Ctrl-C, a service manager's stop, the arbiter's
# own HUP/TTIN/...): the master decides, and this helper ends at EOF once the master exits.
_IGNORED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGTTIN", "SIGTTOU", "SIGUSR1",
            "SIGUSR2", "SIGWINCH")


def main(argv):
    for name in _IGNORED:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    pid = int(argv[1])  # the master's main thread: its thread id is the process id
    if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_BATCH"):
        print("unsupported", flush=True)
        return 0
    if os.sched_getscheduler(pid) not in (os.SCHED_OTHER, os.SCHED_BATCH):
        print("kept", flush=True)
        return 0
    print("ready", flush=True)
    for line in sys.stdin:
        word = line.strip()
        if word not in ("batch", "other"):
            print("error: unknown command %r" % word, flush=True)
            return 2
        policy = os.SCHED_BATCH if word == "batch" else os.SCHED_OTHER
        try:
            os.sched_setscheduler(pid, policy, os.sched_param(0))
        except OSError as err:
            print("error: %s" % err, flush=True)
            return 1
        print(word, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
