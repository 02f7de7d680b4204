"""The Python codec against the golden vectors shared with the TypeScript codec."""
import json
import random
import unittest

from narwhal_worker import protocol as P

from .support import VECTORS, make_request

with open(VECTORS, encoding="utf-8") as _f:
    DATA = json.load(_f)

TYPES = {name: getattr(P, name) for name in P.NAMES.values()}
META = {"method": "method", "urlScheme": "url_scheme", "serverProtocol": "server_protocol",
        "target": "target", "path": "path", "query": "query", "scriptName": "script_name",
        "remoteAddr": "remote_addr", "remotePort": "remote_port", "serverName": "server_name",
        "serverPort": "server_port", "bodyLength": "body_length", "bodyMode": "body_mode",
        "bodyFile": "body_file"}


def encode(v):
    t, rid, f = TYPES[v["type"]], v["id"], v["fields"]
    if t == P.REQUEST:
        req = make_request(**{META[k]: f[k] for k in META}, headers=[tuple(h) for h in f["headers"]])
        return P.encode_request(rid, req, bytes.fromhex(f["bodyHex"]))
    if t == P.RESPONSE_HEAD:
        return P.encode_response_head(rid, f["status"], f["reason"], [tuple(h) for h in f["headers"]])
    if t == P.RESPONSE_FILE:
        return P.encode_response_file(rid, f["pid"], f["fd"], f["offset"], f["length"])
    if t == P.FILE_ACK:
        return P.encode_file_ack(rid, f["ok"])
    if t in (P.BODY, P.RESPONSE_BODY):
        return b"".join(P.body_frames(t, rid, bytes.fromhex(f["dataHex"])))
    if t in (P.PING, P.PONG):
        return P.encode_frame(t, rid, bytes.fromhex(f["dataHex"]))
    if t in (P.HELLO, P.BOOT_ERROR, P.APP_ERROR, P.LOG, P.STACK, P.FORK, P.FORKED, P.CHILD_EXIT):
        return P.encode_json(t, rid, f)
    return P.encode_frame(t, rid)


def decode(frame):
    t, p = frame.type, frame.payload
    if t == P.REQUEST:
        req = P.decode_request(p)
        out = {k: getattr(req, attr) for k, attr in META.items()}
        out["headers"] = [list(h) for h in req.headers]
        out["bodyHex"] = req.body.hex()
        return out
    if t == P.RESPONSE_HEAD:
        status, reason, headers = P.decode_response_head(p)
        return {"status": status, "reason": reason, "headers": [list(h) for h in headers]}
    if t == P.RESPONSE_FILE:
        return dict(zip(("pid", "fd", "offset", "length"), P.decode_response_file(p)))
    if t == P.FILE_ACK:
        return {"ok": P.decode_file_ack(p)}
    if t in (P.BODY, P.RESPONSE_BODY, P.PING, P.PONG):
        return {"dataHex": bytes(p).hex()}
    if t in (P.HELLO, P.BOOT_ERROR, P.APP_ERROR, P.LOG, P.STACK, P.FORK, P.FORKED, P.CHILD_EXIT):
        return P.decode_json(t, p)
    assert len(p) == 0
    return {}


def sender(type_name):
    return "worker" if TYPES[type_name] & 0x80 else "node"


class GoldenVectors(unittest.TestCase):
    def test_encode_gives_the_bytes(self):
        for v in DATA["vectors"]:
            with self.subTest(v["name"]):
                self.assertEqual(encode(v).hex(), v["hex"])

    def test_decode_gives_the_fields(self):
        for v in DATA["vectors"]:
            with self.subTest(v["name"]):
                frames = P.FrameDecoder(sender(v["type"])).push(bytes.fromhex(v["hex"]))
                self.assertEqual(len(frames), 1)
                f = frames[0]
                self.assertEqual((f.type, f.id, f.flags), (TYPES[v["type"]], v["id"], 0))
                self.assertEqual(decode(f), v["fields"])

    def test_bad_vectors_are_refused_with_their_fault(self):
        for b in DATA["bad"]:
            with self.subTest(b["name"]):
                dec = P.FrameDecoder(b["from"])
                raw = bytes.fromhex(b["hex"])
                if b["stage"] == "frame":
                    with self.assertRaises(P.ProtocolError) as cm:
                        dec.push(raw)
                    self.assertEqual(cm.exception.fault, b["fault"])
                    # the decoder stays failed
                    with self.assertRaises(P.ProtocolError):
                        dec.push(bytes.fromhex(DATA["vectors"][0]["hex"]))
                else:
                    (f,) = dec.push(raw)
                    with self.assertRaises(P.ProtocolError) as cm:
                        decode(f)
                    self.assertEqual(cm.exception.fault, b["fault"])

    def test_any_split_of_the_stream_gives_the_same_frames(self):
        stream = b"".join(bytes.fromhex(v["hex"]) for v in DATA["vectors"])
        expected = [v["hex"] for v in DATA["vectors"]]
        rnd = random.Random(1234)
        for trial in range(60):
            dec = P.FrameDecoder("any")
            got = []
            off = 0
            while off < len(stream):
                step = 1 if trial == 0 else rnd.randint(1, 64 if trial % 2 else 700)
                for f in dec.push(stream[off:off + step]):
                    got.append((P.frame_header(f.type, f.id, len(f.payload)) + bytes(f.payload)).hex())
                off += step
            self.assertEqual(got, expected)
            self.assertEqual(dec.pending, 0)


class Caps(unittest.TestCase):
    def test_big_chunks_are_split_at_max_chunk(self):
        frames = P.FrameDecoder("worker").push(
            b"".join(bytes(x) for x in P.body_frames(P.RESPONSE_BODY, 1, b"x" * (2 * P.MAX_CHUNK + 3))))
        self.assertEqual([len(f.payload) for f in frames], [P.MAX_CHUNK, P.MAX_CHUNK, 3])

    def test_oversized_frame_refused_from_its_header(self):
        with self.assertRaises(P.ProtocolError) as cm:
            P.FrameDecoder("node").push(b"\x02\x00\x00\x00\x00\x00\x00\x01\x7f\xff\xff\xff")
        self.assertEqual(cm.exception.fault, "PAYLOAD_TOO_LARGE")

    def test_encoders_refuse_what_the_wire_cannot_carry(self):
        cases = [
            (lambda: P.encode_response_head(1, 200, "OK", [("X", "\u0100")]), "NOT_LATIN1"),
            (lambda: P.encode_response_head(1, 200, "OK", [("X", "v" * 70000)]), "STRING_TOO_LONG"),
            (lambda: P.encode_response_head(1, 200, "OK", [("X", "v")] * 4097), "TOO_MANY_HEADERS"),
            (lambda: P.encode_response_head(0, 200, "OK", []), "BAD_REQUEST_ID"),
            (lambda: P.encode_frame(P.PONG, 0, b"x" * 65), "PAYLOAD_TOO_LARGE"),
            (lambda: P.encode_frame(P.PONG, 1, b""), "BAD_REQUEST_ID"),
            (lambda: P.encode_json(P.LOG, 0, {"level": "info", "message": "x" * (2 << 20)}), "PAYLOAD_TOO_LARGE"),
        ]
        for fn, fault in cases:
            with self.subTest(fault):
                with self.assertRaises(P.ProtocolError) as cm:
                    fn()
                self.assertEqual(cm.exception.fault, fault)

    def test_truncate_text_keeps_the_end(self):
        s = "a" * 1000 + "LAST LINE"
        t = P.truncate_text(s, 100)
        self.assertTrue(t.endswith("LAST LINE"))
        self.assertLess(len(t), 200)


if __name__ == "__main__":
    unittest.main()
