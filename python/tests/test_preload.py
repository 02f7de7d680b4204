"""--preload: a zygote imports the app once and forks workers that connect to Node's socket."""
import os
import signal
import socket
import tempfile
import unittest

from narwhal_worker import protocol as P

from .support import Peer, SpawnedWorker, make_request, response


@unittest.skipUnless(hasattr(os, "fork") and hasattr(socket, "AF_UNIX"), "needs fork and UNIX sockets")
class Preload(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "w.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(8)
        self.server.settimeout(10)
        self.zygote = SpawnedWorker("behaviours:app", "--preload", "--threads", "2")
        self.workers = []

    def tearDown(self):
        for peer in self.workers:
            peer.sock.close()
        self.zygote.close()
        self.server.close()
        self.dir.cleanup()

    def fork(self):
        self.zygote.peer.send(P.encode_json(P.FORK, 0, {"connect": self.path}))
        forked = self.zygote.peer.next()
        self.assertEqual(forked.type, P.FORKED)
        pid = P.decode_json(P.FORKED, forked.payload)["pid"]
        conn, _ = self.server.accept()
        peer = Peer(conn)
        self.workers.append(peer)
        hello = P.decode_json(P.HELLO, peer.next().payload)
        self.assertEqual((hello["pid"], hello["threads"]), (pid, 2))
        return pid, peer

    def test_workers_share_the_app_imported_once_by_the_zygote(self):
        hello = P.decode_json(P.HELLO, self.zygote.hello().payload)
        self.assertIs(hello["preload"], True)
        self.assertEqual(hello["pid"], self.zygote.proc.pid)
        pids = []
        for _ in range(2):
            pid, peer = self.fork()
            peer.request(1, make_request(path="/pid"))
            served_by, imported_in = map(int, response(peer.until_terminal(1))[3].split())
            self.assertEqual((served_by, imported_in), (pid, self.zygote.proc.pid))
            pids.append(pid)
        self.assertNotEqual(pids[0], pids[1])
        # the zygote still answers heartbeats
        self.zygote.peer.send(P.encode_frame(P.PING, 0, b"z"))
        self.assertEqual(self.zygote.peer.next().type, P.PONG)

    def test_child_exit_is_reported_with_the_signal(self):
        self.zygote.hello()
        pid, peer = self.fork()
        os.kill(pid, signal.SIGKILL)
        f = self.zygote.peer.next()
        self.assertEqual(f.type, P.CHILD_EXIT)
        self.assertEqual(P.decode_json(P.CHILD_EXIT, f.payload), {"pid": pid, "code": None, "signal": "SIGKILL"})
        with self.assertRaises(EOFError):
            peer.next(5)

    def test_graceful_worker_exit_and_zygote_shutdown(self):
        self.zygote.hello()
        pid, peer = self.fork()
        peer.send(P.encode_frame(P.SHUTDOWN))
        f = self.zygote.peer.next()
        self.assertEqual(P.decode_json(P.CHILD_EXIT, f.payload), {"pid": pid, "code": 0, "signal": None})
        self.zygote.peer.send(P.encode_frame(P.SHUTDOWN))
        self.assertEqual(self.zygote.proc.wait(10), 0)

    def test_broken_app_never_forks(self):
        z = SpawnedWorker("broken_import:app", "--preload")
        try:
            self.assertEqual(z.hello().type, P.BOOT_ERROR)
            self.assertEqual(z.proc.wait(10), 4)
        finally:
            z.close()


class Connect(unittest.TestCase):
    def test_worker_on_a_unix_socket_instead_of_fd3(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "w.sock")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(path)
            server.listen(1)
            server.settimeout(20)
            w = SpawnedWorker("hello", "--connect", path)
            try:
                conn, _ = server.accept()
                peer = Peer(conn)
                self.assertEqual(P.decode_json(P.HELLO, peer.next(20).payload)["pid"], w.proc.pid)
                peer.request(1, make_request())
                self.assertEqual(response(peer.until_terminal(1))[3], b"Hello World\n")
                conn.close()
                self.assertEqual(w.proc.wait(10), 0)
            finally:
                w.close()
                server.close()


if __name__ == "__main__":
    unittest.main()
