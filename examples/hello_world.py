"""The WSGI example from the classic Django deployment article: the smallest app there is.

    narwhal hello_world:process_http_request --bind 0.0.0.0:8000
"""


def process_http_request(environ, start_response):
    status = "200 OK"
    response_headers = [("Content-type", "text/plain; charset=utf-8")]
    start_response(status, response_headers)
    text = "Hello World"
    return [text.encode("utf-8")]
