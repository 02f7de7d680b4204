"""Every test app wrapped in wsgiref.validate.validator, with warnings turned into errors.

APP_MODULE `validated:misc`, `validated:echo`, `validated:flask`, `validated:django`.
Any assertion from the validator becomes a 500 and a traceback in the error log; any
WSGIWarning (e.g. a missing close()) becomes an exception as well, so the tests see it.
"""
import os
import sys
import warnings
from wsgiref.validate import WSGIWarning, validator

# Only the validator's own warnings become errors (a framework's deprecation notices don't).
warnings.simplefilter("error", WSGIWarning)

_HERE = os.path.dirname(os.path.abspath(__file__))
_EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "examples")


def _load(name):
    if name == "misc":
        import misc
        return misc.app
    if name == "echo":
        import echo
        return echo.app
    if name == "flask":
        sys.path.insert(0, os.path.join(_EXAMPLES, "flask_app"))
        import app as flask_module
        return flask_module.app
    if name == "django":
        sys.path.insert(0, os.path.join(_EXAMPLES, "lifecycle"))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lifecycle.settings")
        from django.core.wsgi import get_wsgi_application
        return get_wsgi_application()
    raise LookupError(name)


def _pep3333_only(app):
    """Drops `wsgi.input_terminated` (an extension outside PEP 3333, set by Gunicorn and
    narwhal): with it, Werkzeug reads wsgi.input with read() and no size, which the
    validator forbids; without it, Werkzeug bounds its reads by CONTENT_LENGTH."""
    def middleware(environ, start_response):
        environ.pop("wsgi.input_terminated", None)
        return app(environ, start_response)
    return middleware


def wrapped(name):
    """A factory: `validated:wrapped('flask')`. The validator sees exactly what narwhal
    passes (it wraps the server side); only the extension key is removed before it."""
    return _pep3333_only(validator(_load(name)))
