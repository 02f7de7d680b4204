"""What an app may answer: status and header validation (PEP 3333, RFC 9110), FileWrapper.

A bad status or header never reaches the wire: start_response raises InvalidResponse,
the request ends in APP_ERROR and Node answers 500. That is what keeps a value with CR/LF
from splitting the response (RFC 9110 5.5, 9112 4).
"""

import re

# RFC 9110 5.6.2: token = 1*tchar
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# RFC 9110 5.5: field-value octets are VCHAR, SP, HTAB, obs-text (0x80-0xFF); no CTLs.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
# RFC 9112 4: status-code = 3DIGIT, SP, reason-phrase = *( HTAB / SP / VCHAR / obs-text )
_STATUS = re.compile(r"([0-9]{3}) ([^\x00-\x08\x0a-\x1f\x7f]*)\Z")
# PEP 3333 "hop-by-hop" headers an app must not send (RFC 9110 7.6.1); Node owns framing.
HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection",
))


class InvalidResponse(ValueError):
    """The app's status or headers cannot be sent; the request is answered 500."""


_status_cache = {}


def check_status(status):
    """Return (code, reason) from a native-string status such as "200 OK"."""
    hit = _status_cache.get(status) if type(status) is str else None
    if hit is not None:
        return hit
    code_reason = _check_status(status)
    if len(_status_cache) < 512:
        _status_cache[status] = code_reason
    return code_reason


def _check_status(status):
    if type(status) is not str:
        raise InvalidResponse("status must be a str, not %s" % type(status).__name__)
    m = _STATUS.match(status)
    if m is None or _BAD_VALUE.search(m.group(2)) is not None:
        raise InvalidResponse("invalid status %r" % status)
    code = int(m.group(1))
    if code < 200:
        # 1xx are interim responses the server sends itself (RFC 9110 15.2).
        raise InvalidResponse("invalid status %r: 1xx is not a final response" % status)
    return code, m.group(2)


# (name, value) pairs already found valid: apps repeat the same few headers on every
# response, so most checks are one set lookup. Bounded; cleared when full.
_valid_pairs = set()
_DIGITS = re.compile(r"[0-9]+\Z")


def check_headers(headers):
    """Return the headers as a list of (name, value) native strings, or raise."""
    # PEP 3333 asks for a list of tuples; like Gunicorn we also take a tuple of pairs and
    # [name, value] lists (real apps send them), and refuse anything else.
    copied = False
    if type(headers) is not list:
        if type(headers) is not tuple:
            raise InvalidResponse("headers must be a list, not %s" % type(headers).__name__)
        headers = list(headers)
        copied = True
    valid = _valid_pairs
    for i, item in enumerate(headers):
        if type(item) is not tuple:
            if type(item) is not list or len(item) != 2:
                raise InvalidResponse("header %r is not a (name, value) pair" % (item,))
            if not copied:
                headers = list(headers)  # never modify the app's own list
                copied = True
            item = headers[i] = tuple(item)
        try:
            if item in valid:
                continue
        except TypeError:
            pass  # unhashable parts: the checks below say what is wrong
        if len(item) != 2:
            raise InvalidResponse("header %r is not a (name, value) pair" % (item,))
        name, value = item
        if type(name) is not str or type(value) is not str:
            raise InvalidResponse("header %r: name and value must be str" % (item,))
        if _TOKEN.match(name) is None:
            raise InvalidResponse("invalid header name %r" % name)
        if _BAD_VALUE.search(value) is not None:
            raise InvalidResponse("invalid value for header %r: %r" % (name, value))
        lname = name.lower()
        if lname in HOP_BY_HOP:
            raise InvalidResponse("hop-by-hop header %r not allowed (PEP 3333)" % name)
        if lname == "content-length" and _DIGITS.match(value.strip(" \t")) is None:
            raise InvalidResponse("invalid Content-Length %r" % value)
        if len(valid) >= 4096:
            valid.clear()
        valid.add(item)
    return headers


class Head:
    """A validated status and header list; ``payload`` is its RESPONSE_HEAD payload once
    encoded (lazily: an encoding fault must surface when the head is sent, not in
    start_response)."""

    __slots__ = ("code", "reason", "headers", "payload")

    def __init__(self, code, reason, headers):
        self.code = code
        self.reason = reason
        self.headers = headers
        self.payload = None


# (status, *headers) -> Head: an app answers the same status and headers again and again,
# so start_response is one dict lookup and the head is encoded once. Bounded; cleared
# when full (header values that change on every response only cost the lookup).
_heads = {}
_HEADS_MAX = 512


def check_response(status, headers):
    """The validated Head for start_response(status, headers), or InvalidResponse."""
    key = None
    if type(headers) is list or type(headers) is tuple:
        try:
            key = (status, *headers)
            head = _heads.get(key)
        except TypeError:  # an unhashable part: check_headers says what is wrong
            key = head = None
        # An equal key is not enough: the checks below refuse a status or a pair that is
        # a subclass of str or tuple (as before, header strings only need to be equal).
        if head is not None and type(status) is str:
            for item in headers:
                if type(item) is not tuple:
                    break
            else:
                return head
    code, reason = check_status(status)
    # A copy: the app may change its list afterwards; what was checked is what is sent.
    head = Head(code, reason, tuple(check_headers(headers)))
    if key is not None:
        if len(_heads) >= _HEADS_MAX:
            _heads.clear()
        _heads[key] = head
    return head


class FileWrapper:
    """wsgi.file_wrapper: the worker hands a real file to Node; others are iterated."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    # PEP 3333 (optional): old-style sequence protocol
    def __getitem__(self, key):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise IndexError
