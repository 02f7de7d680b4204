"""A module that fails to import: the server must stop at startup with this traceback."""
import this_module_does_not_exist_narwhal  # noqa: F401


def app(environ, start_response):
    start_response("200 OK", [])
    return [b""]
