"""Every test app wrapped in wsgiref.validate.validator, with warnings turned into errors.

APP_MODULE `validated:misc`, `validated:echo`, `validated:flask`, `validated:django`.
Any assertion from the validator becomes a 500 and a traceback in the error log; any
warning (e.g. a missing close()) becomes an exception as well, so the tests see it.
"""
import os
import sys
import warnings
from wsgiref.validate import validator

warnings.simplefilter("error")

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


def wrapped(name):
    """A factory: `validated:wrapped('flask')`."""
    return validator(_load(name))
