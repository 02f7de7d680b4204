"""The corpus echo app (../shared/corpus/http1-requests/README.md): every str of the environ."""
import base64
import json


def app(environ, start_response):
    # read(n) with the length, as wsgiref.validate wants (CONTENT_LENGTH is always set for a body)
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    out = {k: v for k, v in environ.items() if isinstance(v, str)}
    out["body_base64"] = base64.b64encode(body).decode("ascii")
    data = json.dumps(out).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]
