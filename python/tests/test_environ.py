"""The PEP 3333 environ and wsgi.input built from a REQUEST."""
import io
import os
import tempfile
import threading
import unittest

from narwhal_worker import protocol as P
from narwhal_worker.environ import (ClientGone, ConfigurationProblem, FileBody, StreamBody,
                                    base_environ, build_environ, make_input, path_info,
                                    request_environ)
from narwhal_worker.response import FileWrapper

from .support import VECTORS, make_request


def environ(**kw):
    req = make_request(**kw)
    return build_environ(base_environ(1), req, make_input(req))


class Environ(unittest.TestCase):
    def test_complete_environ_for_a_get(self):
        env = environ(method="GET", path="/caf%C3%A9/a%2Fb", query="x=1&y=%20",
                      target="/caf%C3%A9/a%2Fb?x=1&y=%20", url_scheme="https",
                      remote_addr="10.0.0.1", remote_port=5555, server_name="example.com",
                      server_port=443, server_protocol="HTTP/1.0",
                      headers=[("Host", "example.com"), ("X-Multi", "a"), ("x-multi", "b"),
                               ("Accept-Encoding", "gzip")])
        strs = {k: v for k, v in env.items() if isinstance(v, str)}
        self.assertEqual(strs, {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/caf\u00c3\u00a9/a/b",
            "QUERY_STRING": "x=1&y=%20",
            "RAW_URI": "/caf%C3%A9/a%2Fb?x=1&y=%20",
            "SERVER_PROTOCOL": "HTTP/1.0",
            "SERVER_NAME": "example.com",
            "SERVER_PORT": "443",
            "REMOTE_ADDR": "10.0.0.1",
            "REMOTE_PORT": "5555",
            "SERVER_SOFTWARE": "narwhal",
            "HTTP_HOST": "example.com",
            "HTTP_X_MULTI": "a,b",
            "HTTP_ACCEPT_ENCODING": "gzip",
            "wsgi.url_scheme": "https",
        })
        self.assertEqual(env["wsgi.version"], (1, 0))
        self.assertIs(env["wsgi.multithread"], False)
        self.assertIs(env["wsgi.multiprocess"], True)
        self.assertIs(env["wsgi.run_once"], False)
        self.assertIs(env["wsgi.file_wrapper"], FileWrapper)
        self.assertEqual(env["wsgi.input"].read(), b"")
        self.assertTrue(hasattr(env["wsgi.errors"], "write"))
        self.assertNotIn("CONTENT_LENGTH", env)
        self.assertNotIn("CONTENT_TYPE", env)
        self.assertIs(base_environ(4)["wsgi.multithread"], True)

    def test_content_headers_are_not_http_prefixed(self):
        env = environ(method="POST", headers=[("Content-Type", "text/plain"), ("Content-Length", "3")],
                      body_length=3, body=b"abc")
        self.assertEqual((env["CONTENT_TYPE"], env["CONTENT_LENGTH"]), ("text/plain", "3"))
        self.assertNotIn("HTTP_CONTENT_TYPE", env)
        self.assertNotIn("HTTP_CONTENT_LENGTH", env)
        self.assertEqual(env["wsgi.input"].read(), b"abc")

    def test_underscore_lookalikes_never_pose_as_content_headers(self):
        env = environ(method="POST", headers=[("Content-Length", "7"), ("Content_Length", "-1E23"),
                                              ("content_type", "x")], body_length=7, body=b"tricked")
        self.assertEqual((env["CONTENT_LENGTH"], env["HTTP_CONTENT_LENGTH"], env["HTTP_CONTENT_TYPE"]),
                         ("7", "-1E23", "x"))
        self.assertNotIn("CONTENT_TYPE", env)

    def test_dechunked_body_gets_a_content_length(self):
        env = environ(method="POST", headers=[("Transfer-Encoding", "chunked")], body_length=5, body=b"hello")
        self.assertEqual(env["CONTENT_LENGTH"], "5")

    def test_repeated_fields_the_same_on_every_request(self):
        # The environ key of a name is cached after its first request: nothing changes.
        headers = [("X-Multi", "a"), ("Content-Type", "text/plain"), ("x-multi", "b"),
                   ("content-type", "text/html"), ("X-MULTI", "c")]
        for _ in range(3):
            env = environ(method="POST", headers=headers)
            self.assertEqual((env["HTTP_X_MULTI"], env["CONTENT_TYPE"]), ("a,b,c", "text/html"))
            self.assertNotIn("HTTP_CONTENT_TYPE", env)

    def test_latin1_header_values_stay_native_strings(self):
        env = environ(headers=[("X-Name", "caf\u00e9\u00ff")])
        self.assertEqual(env["HTTP_X_NAME"], "caf\u00e9\u00ff")

    def test_path_info_decoding(self):
        self.assertEqual(path_info("/a%20b", ""), "/a b")
        self.assertEqual(path_info("/\u00c3\u00a0%20k", ""), "/\u00c3\u00a0 k")
        self.assertEqual(path_info("/%E2%82%AC", ""), "\u00e2\u0082\u00ac".join(["/", ""]))
        self.assertEqual(path_info("/bad%zz", ""), "/bad%zz")
        self.assertEqual(path_info("*", ""), "*")

    def test_script_name_from_request_or_environment(self):
        env = environ(path="/app/x%20y", script_name="/app")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("/app", "/x y"))
        os.environ["SCRIPT_NAME"] = "/mount"
        try:
            env = environ(path="/mount/page")
            self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("/mount", "/page"))
            with self.assertRaises(ConfigurationProblem):
                environ(path="/elsewhere")
        finally:
            del os.environ["SCRIPT_NAME"]


class OnePass(unittest.TestCase):
    """request_environ (the worker's path) gives exactly build_environ(decode_request())."""

    def both(self, payload):
        base = base_environ(1)
        req = P.decode_request(payload)
        try:
            want = build_environ(base, req, None)
        except ConfigurationProblem:
            self.assertIsNone(request_environ(base, payload))
            return
        got, body = request_environ(base, payload)
        got["wsgi.input"] = None
        self.assertEqual(got, want)
        self.assertEqual(tuple(body), (req.body_mode, req.body_length, req.body_file, req.body))

    def test_same_environ_and_body_as_the_reference_path(self):
        import json

        with open(VECTORS, encoding="utf-8") as f:
            data = json.load(f)
        n = 0
        for v in data["vectors"]:
            if v["type"] == "REQUEST":
                with self.subTest(v["name"]):
                    self.both(bytes.fromhex(v["hex"])[P.HEADER_SIZE:])
                    n += 1
        self.assertGreater(n, 0)
        for kw in (dict(), dict(path="/a%20b", query="q=1"), dict(path="/app/x", script_name="/app"),
                   dict(url_scheme="", headers=[]),
                   dict(headers=[("Content-Type", "a/b"), ("content-length", "3"), ("X-A", "1"),
                                 ("x-a", "2"), ("Content_Length", "9"), ("X-\xe9", "\xff")],
                        method="POST", body=b"abc", body_length=3),
                   dict(method="PUT", body_mode=P.BODY_FRAMES, body_length=10),
                   dict(method="PUT", body_mode=P.BODY_FILE, body_length=10, body_file="/tmp/b\u00e9")):
            with self.subTest(kw):
                self.both(P.encode_request(1, make_request(**kw), kw.get("body", b""))[P.HEADER_SIZE:])

    def test_protocol_faults_are_the_reference_ones(self):
        import json

        with open(VECTORS, encoding="utf-8") as f:
            data = json.load(f)
        for b in data["bad"]:
            raw = bytes.fromhex(b["hex"])
            if b["stage"] == "frame" or raw[0] != P.REQUEST:
                continue
            with self.subTest(b["name"]), self.assertRaises(P.ProtocolError) as cm:
                request_environ(base_environ(1), raw[P.HEADER_SIZE:])
            self.assertEqual(cm.exception.fault, b["fault"])

    def test_a_path_outside_script_name_takes_the_reference_path(self):
        payload = P.encode_request(1, make_request(path="/elsewhere", script_name="/app"))
        self.assertIsNone(request_environ(base_environ(1), payload[P.HEADER_SIZE:]))


class Input(unittest.TestCase):
    BODY = b"first line\nsecond line\nthird"

    def readers(self):
        yield "memory", io.BytesIO(self.BODY)
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(self.BODY + b"EXTRA BYTES PAST CONTENT_LENGTH")
        fb = FileBody(f.name, len(self.BODY))
        yield "file", fb
        fb.close()
        os.unlink(f.name)
        sb = StreamBody(len(self.BODY))
        for i in range(0, len(self.BODY), 5):
            sb.feed(self.BODY[i:i + 5])
        sb.feed(b"EXTRA")
        sb.finish()
        yield "frames", sb

    def test_read_readline_readlines_iteration_bounded(self):
        for name, r in self.readers():
            with self.subTest(name):
                self.assertEqual(r.readline(), b"first line\n")
                self.assertEqual(r.read(3), b"sec")
                self.assertEqual(r.readline(4), b"ond ")
                self.assertEqual(r.readlines(), [b"line\n", b"third"])
                self.assertEqual(r.read(), b"")
                self.assertEqual(r.readline(), b"")
        for name, r in self.readers():
            with self.subTest(name + " iteration"):
                self.assertEqual(list(r), [b"first line\n", b"second line\n", b"third"])
        for name, r in self.readers():
            with self.subTest(name + " read all"):
                self.assertEqual(r.read(), self.BODY)
        for name, r in self.readers():
            with self.subTest(name + " read(None), readline(None), readlines(hint)"):
                self.assertEqual(r.readline(None), b"first line\n")
                self.assertEqual(r.readlines(1), [b"second line\n"])
                self.assertEqual(r.read(None), b"third")

    def test_stream_read_blocks_until_body_frames_arrive(self):
        sb = StreamBody(6)
        got = []
        t = threading.Thread(target=lambda: got.append(sb.read()))
        t.start()
        sb.feed(b"abc")
        sb.feed(b"def")
        t.join(5)
        self.assertEqual(got, [b"abcdef"])

    def test_stream_read_after_abort_raises(self):
        sb = StreamBody(10)
        sb.feed(b"abc")
        sb.abort()
        with self.assertRaises(ClientGone):
            sb.read()

    def test_stream_short_body_ends_at_body_end(self):
        sb = StreamBody(10)
        sb.feed(b"abc")
        sb.finish()
        self.assertEqual(sb.read(), b"abc")

    def test_make_input_by_mode(self):
        self.assertIsInstance(make_input(make_request(body_mode=P.BODY_FRAMES, body_length=3)), StreamBody)


if __name__ == "__main__":
    unittest.main()
