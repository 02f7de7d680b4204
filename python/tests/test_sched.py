"""The event loop's scheduling helper (narwhal_worker/sched.py), run as Node runs it:
``python -I -S sched.py PID``, commands on stdin, acknowledgements on stdout. The target is
a sleeping child process standing in for the master; its policy is read back from the
kernel, and the worker's own --sched-other reset is checked the same way."""
import os
import signal
import subprocess
import sys
import unittest

from .support import PYTHON_DIR

SCRIPT = os.path.join(PYTHON_DIR, "narwhal_worker", "sched.py")
HAS_SCHED = hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH")


@unittest.skipUnless(HAS_SCHED, "no SCHED_BATCH on this platform")
class SchedHelper(unittest.TestCase):
    def setUp(self):
        self.target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        self.addCleanup(self.target.wait)
        self.addCleanup(self.target.kill)

    def run_helper(self, commands):
        done = subprocess.run([sys.executable, "-I", "-S", SCRIPT, str(self.target.pid)],
                              input=commands, capture_output=True, text=True, timeout=20)
        return done.returncode, done.stdout.split()

    def test_switches_both_ways_and_acknowledges(self):
        code, out = self.run_helper("batch\n")
        self.assertEqual((code, out), (0, ["ready", "batch"]))
        self.assertEqual(os.sched_getscheduler(self.target.pid), os.SCHED_BATCH)
        code, out = self.run_helper("other\n")
        self.assertEqual((code, out), (0, ["ready", "other"]))
        self.assertEqual(os.sched_getscheduler(self.target.pid), os.SCHED_OTHER)

    def test_ignores_the_process_group_signals(self):
        helper = subprocess.Popen([sys.executable, "-I", "-S", SCRIPT, str(self.target.pid)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(helper.wait, 20)
        self.addCleanup(helper.stdin.close)
        self.assertEqual(helper.stdout.readline(), "ready\n")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            helper.send_signal(sig)
        helper.stdin.write("batch\n")
        helper.stdin.flush()
        self.assertEqual(helper.stdout.readline(), "batch\n")
        helper.stdin.close()
        self.assertEqual(helper.wait(20), 0)  # EOF ends it

    def test_unknown_command_stops_it(self):
        code, out = self.run_helper("batch\nfast\nother\n")
        self.assertEqual(code, 2)
        self.assertEqual(out[:2], ["ready", "batch"])
        self.assertIn("'fast'", " ".join(out))
        self.assertEqual(os.sched_getscheduler(self.target.pid), os.SCHED_BATCH)

    def test_reset_sched_leaves_batch_only(self):
        # In a child, so this test process keeps its own policy.
        code = ("import os, sys; sys.path.insert(0, %r)\n"
                "from narwhal_worker.__main__ import reset_sched\n"
                "os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))\n"
                "reset_sched(); print(os.sched_getscheduler(0))\n"
                "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
                "reset_sched(); print(os.sched_getscheduler(0))\n") % PYTHON_DIR
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=20).stdout.split()
        self.assertEqual(out, [str(os.SCHED_OTHER), str(os.SCHED_IDLE)])


if __name__ == "__main__":
    unittest.main()
