"""One request through Exchange.run on a real Worker and socketpair: PEP 3333 rules."""
import json
import socket
import sys
import threading
import unittest
import warnings
from wsgiref.validate import validator

from narwhal_worker import protocol as P
from narwhal_worker.exchange import Exchange
from narwhal_worker.worker import Channel, Worker

from .support import Peer, make_request, response

sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), "apps"))
import behaviours  # noqa: E402
import echo  # noqa: E402
import hello  # noqa: E402


class Harness:
    def __init__(self, app):
        a, b = socket.socketpair()
        self.peer = Peer(a)
        self._b = b
        self.worker = Worker(Channel(b.detach()), app, "test:app")

    def start(self, req, rid=1):
        ex = Exchange(self.worker, rid, req)
        with self.worker.lock:
            self.worker.exchanges[rid] = ex
            self.worker.inflight += 1
        return ex

    def run(self, req, rid=1):
        self.start(req, rid).run()
        return self.peer.until_terminal(rid)

    def close(self):
        self.peer.sock.close()
        self.worker.channel.sock.close()


class ExchangeTest(unittest.TestCase):
    def serve(self, app, **req):
        h = Harness(app)
        try:
            return h.run(make_request(**req))
        finally:
            h.close()

    def assert500(self, frames, reason_part):
        self.assertEqual([f.type for f in frames], [P.APP_ERROR])
        report = P.decode_json(P.APP_ERROR, frames[0].payload)
        self.assertIn(reason_part, report["reason"])
        self.assertIn("Traceback (most recent call last)", report["traceback"])
        return report

    def test_hello_is_head_body_end(self):
        frames = self.serve(hello.application)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.RESPONSE_END])
        status, reason, headers, body, _ = response(frames)
        self.assertEqual((status, reason, body), (200, "OK", b"Hello World\n"))
        self.assertEqual(headers, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "12")])

    def test_write_callable_then_iterable(self):
        status, _, _, body, end = response(self.serve(behaviours.app, path="/write"))
        self.assertEqual((status, body, end), (200, b"written returned", P.RESPONSE_END))

    def test_exc_info_replaces_headers_not_yet_sent(self):
        status, reason, headers, body, _ = response(self.serve(behaviours.app, path="/exc-info"))
        self.assertEqual((status, reason, headers, body),
                         (500, "Internal Server Error", [("Content-Type", "text/plain")], b"error page"))

    def test_exc_info_after_headers_sent_reraises(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            yield b"first"
            try:
                raise KeyError("late")
            except KeyError:
                start_response("500 Oops", [], sys.exc_info())
            yield b"never"

        frames = self.serve(app)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.APP_ERROR])
        self.assertIn("KeyError", P.decode_json(P.APP_ERROR, frames[-1].payload)["reason"])

    def test_start_response_twice_without_exc_info_is_an_error(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            start_response("404 Not Found", [])
            return [b""]

        self.assert500(self.serve(app), "AssertionError")

    def test_invalid_responses_become_500_never_a_broken_head(self):
        paths = {"/bad-header-crlf": "invalid value for header 'X-Evil'",
                 "/bad-header-name": "invalid header name 'Bad Name'",
                 "/hop-by-hop": "hop-by-hop header 'Connection'",
                 "/bad-status": "invalid status '200OK'",
                 "/no-start": "data before start_response()",
                 "/str-body": "yielded str, not bytes",
                 "/raise": "ZeroDivisionError: boom in the view"}
        for path, reason in paths.items():
            with self.subTest(path):
                self.assert500(self.serve(behaviours.app, path=path), reason)

    def test_more_invalid_statuses_and_headers(self):
        cases = [("100 Continue", []), ("2000 OK", []), (200, []), ("200 O\nK", []),
                 ("200 OK", {"X": "dict"}), ("200 OK", [("X", 1)]), ("200 OK", [("X", "\u0100")]),
                 ("200 OK", [("Content-Length", "12abc")]), ("200 OK", [("Transfer-Encoding", "chunked")]),
                 ("200 OK", [("X", "a\x00b")]), ("200 OK", [("X", "v", "extra")]), ("200 OK", ["X: v"]),
                 ("200 OK", [(b"X", "bytes name")]), ("200 OK", [("X-\u00e9", "non-token")]),
                 ("200 OK", [("Content-Length", "\u00b2")]), ("200 OK", [("X", ["unhashable"])])]
        for status, headers in cases:
            with self.subTest(status=status, headers=headers):
                def app(environ, start_response, status=status, headers=headers):
                    start_response(status, headers)
                    return [b"x"]
                frames = self.serve(app)
                self.assertEqual([f.type for f in frames], [P.APP_ERROR])

    def test_tuple_of_headers_and_list_pairs_are_accepted_as_gunicorn_does(self):
        def app(environ, start_response):
            start_response("200 OK", (("X-A", "1"), ["X-B", "2"]))
            return [b"ok"]

        status, _, headers, body, _ = response(self.serve(app))
        self.assertEqual((status, headers, body), (200, [("X-A", "1"), ("X-B", "2")], b"ok"))

    def test_a_response_iterating_over_a_list_is_written_once(self):
        # Django's HttpResponse: not a list, but __iter__ returns iter(a list of bytes).
        class Response:
            def __init__(self, chunks):
                self.chunks = chunks
                self.closed = False

            def __iter__(self):
                return iter(self.chunks)

            def close(self):
                self.closed = True

        made = []

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/html")])
            chunks = [b"<p>", b"", b"hi</p>"] if environ["PATH_INFO"] == "/list" else (b"a", b"b")
            made.append(Response(chunks))
            return made[-1]

        h = Harness(app)
        writes = []
        send = h.worker.channel.send  # a spy on the one place that writes the socket
        h.worker.channel.send = lambda parts: (writes.append(len(parts)), send(parts))
        try:
            for rid, path in ((1, "/list"), (2, "/tuple")):
                frames = h.run(make_request(path=path), rid)
                self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.RESPONSE_END])
                self.assertEqual(frames[1].payload, b"<p>hi</p>" if rid == 1 else b"ab")
        finally:
            h.close()
        self.assertEqual(len(writes), 2)  # one write per request
        self.assertTrue(all(r.closed for r in made))

    def test_same_head_twice_and_changes_after_start_response(self):
        class Pair(tuple):
            pass

        headers = [("Content-Type", "text/plain"), ("X-Id", "7")]

        def app(environ, start_response):
            mine = list(headers)
            if environ["PATH_INFO"] == "/subclass":
                mine[1] = Pair(mine[1])
            start_response("200 OK", mine)
            # Changed after start_response: what was checked is what goes out.
            mine.append(("X-Late", "a\r\nSet-Cookie: x=1"))
            return [b"x"]

        for _ in range(3):
            status, _, got, body, end = response(self.serve(app))
            self.assertEqual((status, got, body, end), (200, headers, b"x", P.RESPONSE_END))
        # A cached equal head does not let a tuple subclass through.
        self.assertEqual([f.type for f in self.serve(app, path="/subclass")], [P.APP_ERROR])

    def test_exception_mid_stream_after_head(self):
        frames = self.serve(behaviours.app, path="/raise-late")
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.APP_ERROR])
        self.assertEqual(frames[1].payload, b"partial")

    def test_close_is_called_on_success_and_on_error(self):
        closed = []

        class Body:
            def __init__(self, fail):
                self.fail = fail

            def __iter__(self):
                yield b"a"
                if self.fail:
                    raise RuntimeError("x")

            def close(self):
                closed.append(self.fail)

        for fail in (False, True):
            def app(environ, start_response, fail=fail):
                start_response("200 OK", [])
                return Body(fail)
            self.serve(app)
        self.assertEqual(closed, [False, True])

    def test_close_error_is_logged_and_response_still_ends(self):
        class Body(list):
            def close(self):
                raise OSError("close failed")

        def app(environ, start_response):
            start_response("200 OK", [])
            return Body([b"ok"])

        h = Harness(app)
        try:
            frames = h.run(make_request())
        finally:
            h.close()
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.LOG, P.RESPONSE_END])
        log = P.decode_json(P.LOG, frames[2].payload)
        self.assertEqual(log["level"], "error")
        self.assertIn("OSError: close failed", log["message"])

    def test_empty_body_and_headers_deferred_until_first_non_empty_chunk(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            yield b""
            yield b""
            try:
                raise ValueError("after empty chunks")
            except ValueError:
                start_response("503 Busy", [("Retry-After", "1")], sys.exc_info())
            yield b"late"

        status, reason, headers, body, end = response(self.serve(app))
        self.assertEqual((status, reason, headers, body, end), (503, "Busy", [("Retry-After", "1")], b"late", P.RESPONSE_END))

        def empty(environ, start_response):
            start_response("204 No Content", [])
            return []

        frames = self.serve(empty)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_END])

    def test_streaming_chunks_are_sent_as_they_come(self):
        h = Harness(behaviours.app)
        gate = threading.Event()

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            yield b"data: 1\n\n"
            gate.wait(5)
            yield b"data: 2\n\n"

        h.worker.app = app
        try:
            ex = h.start(make_request())
            t = threading.Thread(target=ex.run)
            t.start()
            self.assertEqual(h.peer.next().type, P.RESPONSE_HEAD)
            first = h.peer.next()
            self.assertEqual((first.type, first.payload), (P.RESPONSE_BODY, b"data: 1\n\n"))
            gate.set()
            rest = h.peer.until_terminal(1)
            t.join(5)
        finally:
            h.close()
        self.assertEqual([f.payload for f in rest], [b"data: 2\n\n", b""])

    def test_abort_stops_iteration_and_calls_close(self):
        closed = threading.Event()
        produced = []

        class Endless:
            def __iter__(self):
                for i in range(10000):
                    produced.append(i)
                    yield b"x" * 10
                    if closed.wait(0.01):
                        return

            def close(self):
                closed.set()

        def app(environ, start_response):
            start_response("200 OK", [])
            return Endless()

        h = Harness(app)
        try:
            ex = h.start(make_request())
            t = threading.Thread(target=ex.run)
            t.start()
            self.assertEqual(h.peer.next().type, P.RESPONSE_HEAD)
            self.assertEqual(h.peer.next().type, P.RESPONSE_BODY)
            ex.abort()
            t.join(5)
            frames = h.peer.until_terminal(1)
        finally:
            h.close()
        self.assertTrue(closed.is_set())
        self.assertEqual(frames[-1].type, P.RESPONSE_END)
        self.assertLess(len(produced), 100)

    def test_file_hand_off_length_follows_a_smaller_content_length(self):
        def app(environ, start_response):
            f = open(__file__, "rb")
            f.seek(2)
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "7")])
            return environ["wsgi.file_wrapper"](f)

        h = Harness(app)
        try:
            ex = h.start(make_request())
            t = threading.Thread(target=ex.run)
            t.start()
            self.assertEqual(h.peer.next().type, P.RESPONSE_HEAD)
            ref = h.peer.next()
            pid, fd, offset, length = P.decode_response_file(ref.payload)
            self.assertEqual((pid, offset, length), (__import__("os").getpid(), 2, 7))
            ex.file_ack(True)
            t.join(5)
            self.assertEqual([f.type for f in h.peer.until_terminal(1)], [P.RESPONSE_END])
        finally:
            h.close()

    def test_abort_before_start_never_calls_the_app(self):
        called = []
        h = Harness(lambda e, s: called.append(1))
        try:
            ex = h.start(make_request())
            ex.abort()
            ex.run()
            frames = h.peer.until_terminal(1)
        finally:
            h.close()
        self.assertEqual(([f.type for f in frames], called), ([P.RESPONSE_END], []))

    def test_apps_under_wsgiref_validator_give_no_warning(self):
        cases = [
            (hello.application, {}),
            (echo.app, {"method": "POST", "headers": [("Content-Type", "text/plain"), ("Content-Length", "4")],
                        "body_length": 4, "body": b"ping"}),
            (behaviours.app, {"path": "/write"}),
            (behaviours.app, {"path": "/stream"}),
            (behaviours.app, {"path": "/exc-info"}),
            (behaviours.app, {"path": "/missing", "query": "a=1"}),
            (behaviours.app, {"path": "/file", "query": __file__}),
        ]
        for app, req in cases:
            with self.subTest(req.get("path", "/")):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    status, _, _, body, end = response(self.serve(validator(app), **req))
                self.assertEqual(end, P.RESPONSE_END)
                self.assertEqual([str(w.message) for w in caught], [])
        status, _, _, body, _ = response(self.serve(validator(echo.app), **cases[1][1]))
        self.assertEqual(json.loads(body)["body_base64"], "cGluZw==")


if __name__ == "__main__":
    unittest.main()
