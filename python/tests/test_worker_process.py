"""End to end: ``python -m narwhal_worker`` spawned with a socketpair as fd 3."""
import json
import os
import signal
import tempfile
import time
import unittest

from narwhal_worker import protocol as P

from .support import SpawnedWorker, make_request, response


class Boot(unittest.TestCase):
    def test_hello_after_the_app_imported(self):
        w = SpawnedWorker("hello:process_http_request", "--threads", "3", fd3=True)
        try:
            f = w.hello()
            self.assertEqual((f.type, f.id), (P.HELLO, 0))
            hello = P.decode_json(P.HELLO, f.payload)
            self.assertEqual(hello["pid"], w.proc.pid)
            self.assertEqual((hello["protocol"], hello["threads"], hello["app"]),
                             (1, 3, "hello:process_http_request"))
            self.assertRegex(hello["python"], r"^3\.\d+\.\d+")
        finally:
            w.close()

    def boot_error(self, spec, *args):
        w = SpawnedWorker(spec, *args)
        try:
            f = w.hello()
            self.assertEqual(f.type, P.BOOT_ERROR)
            report = P.decode_json(P.BOOT_ERROR, f.payload)
            code = w.proc.wait(20)
        finally:
            _, err = w.close()
        return report, code, err.decode()

    def test_import_error_gives_reason_traceback_and_exit_4(self):
        report, code, err = self.boot_error("broken_import:app")
        self.assertEqual(code, 4)
        self.assertEqual(report["reason"],
                         "ModuleNotFoundError: No module named 'this_module_does_not_exist_anywhere'")
        self.assertIn("Traceback (most recent call last)", report["traceback"])
        self.assertIn("broken_import.py", report["traceback"])
        self.assertIn("broken_import.py", err)  # and on stderr, for the error log

    def test_missing_callable_gives_one_line_reason(self):
        report, code, err = self.boot_error("hello:nope")
        self.assertEqual((code, report["reason"]), (4, "Failed to find attribute 'nope' in 'hello'."))
        self.assertIn("Failed to find attribute", err)

    def test_bad_arguments_exit_3(self):
        report, code, _ = self.boot_error("hello", "--threads", "0")
        self.assertEqual(code, 3)
        self.assertIn("--threads must be at least 1", report["reason"])

    def test_chdir_makes_the_app_importable(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "chdir_app.py"), "w") as f:
                f.write("def application(e, s):\n    s('200 OK', [])\n    return [e['PWD_CHECK'].encode()]\n")
            w = SpawnedWorker("chdir_app", "--chdir", d)
            try:
                self.assertEqual(w.hello().type, P.HELLO)
            finally:
                w.close()


class Serve(unittest.TestCase):
    def setUp(self):
        self.w = SpawnedWorker(self.spec, *self.args)
        self.peer = self.w.peer
        f = self.w.hello()
        self.assertEqual(f.type, P.HELLO, f.payload)

    def tearDown(self):
        self.w.close()

    spec = "behaviours:app"
    args = ("--threads", "4")

    def get(self, rid, path, query="", **kw):
        self.peer.request(rid, make_request(path=path, query=query, **kw))

    def test_request_response_and_id_reuse(self):
        for _ in range(3):
            self.get(1, "/write")
            status, _, _, body, end = response(self.peer.until_terminal(1))
            self.assertEqual((status, body, end), (200, b"written returned", P.RESPONSE_END))

    def test_echo_environ_and_bodies_in_every_mode(self):
        w = SpawnedWorker("echo:app")
        try:
            self.assertEqual(w.hello().type, P.HELLO)
            body = os.urandom(300000)
            # inline
            w.peer.request(1, make_request(method="POST", path="/a%20b", query="q=1", body_length=5,
                                           body=b"hello", headers=[("Content-Length", "5"), ("X-A", "1"), ("X-A", "2")]))
            env = json.loads(response(w.peer.until_terminal(1))[3])
            self.assertEqual((env["PATH_INFO"], env["QUERY_STRING"], env["RAW_URI"], env["HTTP_X_A"],
                              env["CONTENT_LENGTH"], env["body_base64"]),
                             ("/a b", "q=1", "/a%20b?q=1", "1,2", "5", "aGVsbG8="))
            # frames
            w.peer.request(2, make_request(method="POST", body_mode=P.BODY_FRAMES, body_length=len(body)))
            for i in range(0, len(body), 70000):
                w.peer.send(b"".join(P.body_frames(P.BODY, 2, body[i:i + 70000])))
            w.peer.send(P.encode_frame(P.BODY_END, 2))
            env = json.loads(response(w.peer.until_terminal(2))[3])
            self.assertEqual(__import__("base64").b64decode(env["body_base64"]), body)
            # spilled file
            with tempfile.NamedTemporaryFile() as f:
                f.write(body)
                f.flush()
                w.peer.request(3, make_request(method="POST", body_mode=P.BODY_FILE, body_length=len(body),
                                               body_file=f.name))
                env = json.loads(response(w.peer.until_terminal(3))[3])
            self.assertEqual(__import__("base64").b64decode(env["body_base64"]), body)
            self.assertEqual(env["CONTENT_LENGTH"], str(len(body)))
        finally:
            w.close()

    def test_big_chunk_is_split_into_max_chunk_frames(self):
        self.get(1, "/big", str(3 * P.MAX_CHUNK + 10))
        frames = self.peer.until_terminal(1)
        sizes = [len(f.payload) for f in frames if f.type == P.RESPONSE_BODY]
        self.assertEqual(sizes, [P.MAX_CHUNK, P.MAX_CHUNK, P.MAX_CHUNK, 10, 4])
        self.assertEqual(response(frames)[3], b"x" * (3 * P.MAX_CHUNK + 10) + b"tail")

    def test_threads_serve_requests_at_once(self):
        t0 = time.monotonic()
        for rid in range(1, 5):
            self.get(rid, "/sleep", "0.4")
        peaks = [int(response(self.peer.until_terminal(rid))[3]) for rid in range(1, 5)]
        self.assertLess(time.monotonic() - t0, 1.4)
        self.assertEqual(max(peaks), 4)

    def test_heartbeat_answered_while_every_thread_is_busy(self):
        for rid in range(1, 5):
            self.get(rid, "/spin", "0.8")
        time.sleep(0.2)
        t0 = time.monotonic()
        self.peer.send(P.encode_frame(P.PING, 0, b"\x00\x00\x00\x2a"))
        f = self.peer.next(2)
        self.assertEqual((f.type, f.payload), (P.PONG, b"\x00\x00\x00\x2a"))
        self.assertLess(time.monotonic() - t0, 0.5)
        for rid in range(1, 5):
            self.assertEqual(response(self.peer.until_terminal(rid))[3], b"spun")

    def test_abort_stops_the_stream_and_closes_the_iterable(self):
        with tempfile.TemporaryDirectory() as d:
            marker = os.path.join(d, "marker")
            self.get(7, "/stream", "0.3", headers=[("X-Marker", marker)])
            self.assertEqual(self.peer.next().type, P.RESPONSE_HEAD)
            first = self.peer.next()
            self.assertEqual((first.type, first.payload), (P.RESPONSE_BODY, b"one\n"))
            self.peer.send(P.encode_frame(P.ABORT, 7))
            frames = self.peer.until_terminal(7)
            self.assertEqual(frames[-1].type, P.RESPONSE_END)
            self.assertLessEqual(len(frames), 2)  # at most "two\n" slipped out before ABORT
            with open(marker) as f:
                self.assertEqual(f.read(), "closed\n")

    def test_app_error_and_invalid_header_are_app_errors(self):
        self.get(1, "/raise")
        self.get(2, "/bad-header-crlf")
        e1 = self.peer.until_terminal(1)
        e2 = self.peer.until_terminal(2)
        self.assertEqual([f.type for f in e1 + e2], [P.APP_ERROR, P.APP_ERROR])
        self.assertIn("boom in the view", P.decode_json(P.APP_ERROR, e1[0].payload)["traceback"])

    def test_dump_stack_names_the_sleeping_function(self):
        self.get(9, "/sleep", "1.0")
        time.sleep(0.3)
        self.peer.send(P.encode_frame(P.DUMP_STACK, 9))
        f = self.peer.next(2)
        self.assertEqual((f.type, f.id), (P.STACK, 9))
        stack = P.decode_json(P.STACK, f.payload)
        self.assertIn("behaviours.py", stack["stack"])
        self.assertIn("time.sleep(float(environ[\"QUERY_STRING\"]))", stack["stack"])
        self.assertTrue(stack["thread"].startswith("narwhal-"))
        self.peer.until_terminal(9)
        self.peer.send(P.encode_frame(P.DUMP_STACK, 9))  # finished: empty stack
        self.assertEqual(P.decode_json(P.STACK, self.peer.next(2).payload)["stack"], "")

    def test_sigusr1_dumps_every_thread_to_stderr(self):
        self.get(9, "/sleep", "0.6")
        time.sleep(0.2)
        os.kill(self.w.proc.pid, signal.SIGUSR1)
        self.peer.until_terminal(9)
        self.peer.send(P.encode_frame(P.SHUTDOWN))
        self.assertEqual(self.w.proc.wait(10), 0)
        err = self.w.proc.stderr.read().decode()
        self.assertIn("behaviours.py", err)
        self.assertIn("most recent call first", err)

    def file_request(self, rid, ack):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(b"0123456789" * 1000)
        try:
            self.get(rid, "/file", f.name, headers=[("X-Seek", "5")])
            head = self.peer.next()
            self.assertEqual(head.type, P.RESPONSE_HEAD)
            ref = self.peer.next()
            self.assertEqual(ref.type, P.RESPONSE_FILE)
            pid, fd, offset, length = P.decode_response_file(ref.payload)
            self.assertEqual((pid, offset, length), (self.w.proc.pid, 5, 9995))
            # what Node does: its own descriptor on the worker's open file
            with open("/proc/%d/fd/%d" % (pid, fd), "rb") as mine:
                mine.seek(offset)
                data = mine.read(length)
            self.peer.send(P.encode_file_ack(rid, ack))
            return data, self.peer.until_terminal(rid)
        finally:
            os.unlink(f.name)

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "needs /proc")
    def test_file_hand_off(self):
        data, frames = self.file_request(3, True)
        self.assertEqual(data, (b"0123456789" * 1000)[5:])
        self.assertEqual([f.type for f in frames], [P.RESPONSE_END])

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "needs /proc")
    def test_file_hand_off_refused_falls_back_to_streaming(self):
        _, frames = self.file_request(4, False)
        self.assertEqual(frames[-1].type, P.RESPONSE_END)
        self.assertEqual(b"".join(f.payload for f in frames[:-1]), (b"0123456789" * 1000)[5:])

    def test_prints_go_to_stdout_and_stderr_not_the_socket(self):
        self.get(1, "/print")
        self.assertEqual(response(self.peer.until_terminal(1))[0], 204)
        self.peer.send(P.encode_frame(P.SHUTDOWN))
        self.assertEqual(self.w.proc.wait(10), 0)
        self.assertIn(b"hello from print", self.w.proc.stdout.read())
        self.assertIn(b"hello from stderr", self.w.proc.stderr.read())

    def test_shutdown_finishes_requests_in_flight_then_exits_0(self):
        self.get(1, "/sleep", "0.4")
        time.sleep(0.1)
        self.peer.send(P.encode_frame(P.SHUTDOWN))
        self.assertEqual(response(self.peer.until_terminal(1))[0], 200)
        self.assertEqual(self.w.proc.wait(10), 0)

    def test_arbiter_signals_sent_to_the_group_do_not_stop_a_worker(self):
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR2, signal.SIGWINCH):
            os.kill(self.w.proc.pid, sig)
        time.sleep(0.1)
        self.get(1, "/write")
        self.assertEqual(response(self.peer.until_terminal(1))[3], b"written returned")
        self.assertIsNone(self.w.proc.poll())

    def test_eof_on_the_socket_exits_0(self):
        self.peer.sock.close()
        self.assertEqual(self.w.proc.wait(10), 0)

    def test_body_frame_for_an_inline_request_is_a_protocol_violation(self):
        self.get(1, "/sleep", "0.3")
        self.peer.send(b"".join(P.body_frames(P.BODY, 1, b"stray")))
        self.assertEqual(self.w.proc.wait(10), 3)
        self.assertIn(b"BODY for request 1 whose body is not in frames", self.w.proc.stderr.read())

    def test_protocol_violation_exits_3(self):
        self.peer.send(b"\x99" + b"\x00" * 11)
        self.assertEqual(self.w.proc.wait(10), 3)
        self.assertIn(b"unknown frame type", self.w.proc.stderr.read())


class Stress(unittest.TestCase):
    """Many interleaved requests: every one gets exactly its own frames and one terminal."""

    def run_mix(self, threads):
        import random

        w = SpawnedWorker("behaviours:app", "--threads", str(threads))
        try:
            self.assertEqual(w.hello().type, P.HELLO)
            rnd = random.Random(threads)
            kinds = {}
            for rid in range(1, 301):
                kind = rnd.choice(["/write", "/stream", "/raise", "/sleep", "/missing", "ping"])
                if kind == "ping":
                    w.peer.send(P.encode_frame(P.PING, 0, b"%d" % rid))
                    continue
                kinds[rid] = kind
                w.peer.request(rid, make_request(path=kind, query="0.001" if kind == "/sleep" else ""))
            seen = {}
            bodies = {}
            pongs = 0
            while len(seen) < len(kinds):
                f = w.peer.next(20)
                if f.type == P.PONG:
                    pongs += 1
                    continue
                self.assertNotIn(f.id, seen, "frame after the terminal frame")
                if f.type == P.RESPONSE_BODY:
                    bodies[f.id] = bodies.get(f.id, b"") + f.payload
                if f.type in (P.RESPONSE_END, P.APP_ERROR):
                    seen[f.id] = f.type
            self.assertEqual(pongs, 300 - len(kinds))
            for rid, kind in kinds.items():
                self.assertEqual(seen[rid], P.APP_ERROR if kind == "/raise" else P.RESPONSE_END, kind)
                want = {"/write": b"written returned", "/stream": b"one\ntwo\nthree\n",
                        "/missing": b"not found", "/sleep": b"%d" % 1 if threads == 1 else None}.get(kind)
                if want is not None:
                    self.assertEqual(bodies.get(rid), want, kind)
        finally:
            w.close()

    def test_mixed_pipelined_requests_one_thread(self):
        self.run_mix(1)

    def test_mixed_pipelined_requests_four_threads(self):
        self.run_mix(4)


class SingleThread(unittest.TestCase):
    def test_pipelined_requests_run_one_at_a_time_and_heartbeat_still_flows(self):
        w = SpawnedWorker("behaviours:app")
        try:
            self.assertEqual(w.hello().type, P.HELLO)
            for rid in (1, 2):
                w.peer.request(rid, make_request(path="/sleep", query="0.3"))
            time.sleep(0.1)
            w.peer.send(P.encode_frame(P.PING, 0, b"x"))
            self.assertEqual(w.peer.next(1).type, P.PONG)
            peaks = [int(response(w.peer.until_terminal(rid))[3]) for rid in (1, 2)]
            self.assertEqual(peaks, [1, 1])
        finally:
            w.close()


class SingleThreadReads(unittest.TestCase):
    """--threads 1 runs the app on the reading thread: bytes the app waits for must still
    be read at once (BODY frames, FILE_ACK), and ABORT within a standby tick."""

    def setUp(self):
        self.w = SpawnedWorker("behaviours:app")
        self.assertEqual(self.w.hello().type, P.HELLO)

    def tearDown(self):
        self.w.close()

    def test_body_frames_sent_after_the_request_reach_a_waiting_app(self):
        peer = self.w.peer
        body = b"line one\nabcdefline two\nrest"
        peer.request(1, make_request(method="POST", path="/input", body_mode=P.BODY_FRAMES,
                                     body_length=len(body)))
        for i in range(0, len(body), 4):
            time.sleep(0.02)
            peer.send(b"".join(P.body_frames(P.BODY, 1, body[i:i + 4])))
        t0 = time.monotonic()
        peer.send(P.encode_frame(P.BODY_END, 1))
        status, _, _, out, _ = response(peer.until_terminal(1))
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual((status, out), (200, b"line one\n|abc|defline two\n|rest"))

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "needs /proc")
    def test_file_ack_reaches_the_app_thread(self):
        peer = self.w.peer
        peer.request(2, make_request(path="/file", query=__file__))
        self.assertEqual(peer.next().type, P.RESPONSE_HEAD)
        self.assertEqual(peer.next().type, P.RESPONSE_FILE)
        t0 = time.monotonic()
        peer.send(P.encode_file_ack(2, True))
        self.assertEqual([f.type for f in peer.until_terminal(2)], [P.RESPONSE_END])
        self.assertLess(time.monotonic() - t0, 0.5)

    def test_abort_is_seen_during_a_stream(self):
        peer = self.w.peer
        peer.request(3, make_request(path="/stream", query="0.5"))
        self.assertEqual(peer.next().type, P.RESPONSE_HEAD)
        self.assertEqual(peer.next().type, P.RESPONSE_BODY)
        peer.send(P.encode_frame(P.ABORT, 3))
        t0 = time.monotonic()
        frames = peer.until_terminal(3)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_END])
        self.assertLess(time.monotonic() - t0, 0.9)

    def test_heartbeat_during_a_long_request_after_a_stream_of_short_ones(self):
        # The standby takes over fd 3 once one request has run for a tick, whatever ran
        # before it on the reading thread.
        peer = self.w.peer
        for rid in range(1, 30):
            peer.request(rid, make_request(path="/spin", query="0"))
        for rid in range(1, 30):
            self.assertEqual(response(peer.until_terminal(rid))[3], b"spun")
        peer.request(40, make_request(path="/spin", query="0.6"))
        time.sleep(0.1)
        t0 = time.monotonic()
        peer.send(P.encode_frame(P.PING, 0, b"hb"))
        f = peer.next(2)
        self.assertEqual((f.type, f.payload), (P.PONG, b"hb"))
        self.assertLess(time.monotonic() - t0, 0.3)
        self.assertEqual(response(peer.until_terminal(40))[3], b"spun")

    def test_short_request_is_answered_while_a_long_one_queued_after_it_runs(self):
        # Each request's frames go out when it ends, not when the pipelined run ends.
        peer = self.w.peer
        for rid in range(1, 6):
            peer.request(rid, make_request(path="/spin", query="0"))
        peer.request(6, make_request(path="/spin", query="0.8"))
        t0 = time.monotonic()
        for rid in range(1, 6):
            self.assertEqual(response(peer.until_terminal(rid))[3], b"spun")
        self.assertLess(time.monotonic() - t0, 0.4)
        self.assertEqual(response(peer.until_terminal(6))[3], b"spun")
        self.assertGreater(time.monotonic() - t0, 0.7)

    def test_shutdown_after_a_run_of_pipelined_requests_answers_them_all(self):
        peer = self.w.peer
        peer.send(b"".join(P.encode_request(rid, make_request(path="/spin", query="0"))
                           for rid in range(1, 41)) + P.encode_frame(P.SHUTDOWN, 0))
        ended = set()
        while len(ended) < 40:
            f = peer.next(5)
            if f.type == P.RESPONSE_END:
                ended.add(f.id)
        self.assertEqual(ended, set(range(1, 41)))
        self.assertEqual(self.w.proc.wait(5), 0)


if __name__ == "__main__":
    unittest.main()
