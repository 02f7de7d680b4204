"""Hello world, as in examples/hello_world.py."""


def process_http_request(environ, start_response):
    body = b"Hello World\n"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]


application = process_http_request


def make_app(greeting="Hello", *, punct="!"):
    def app(environ, start_response):
        body = ("%s%s" % (greeting, punct)).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    return app


not_callable = 42
