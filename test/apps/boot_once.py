"""Imports fine until the file named by $NARWHAL_FAIL_MARKER exists; then every import
fails. Lets a test break the app after startup, so only replacement workers fail to boot."""
import os

_marker = os.environ.get("NARWHAL_FAIL_MARKER", "")
if _marker and os.path.exists(_marker):
    raise RuntimeError("boot_once: refusing to boot, %s exists" % _marker)


def app(environ, start_response):
    data = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
