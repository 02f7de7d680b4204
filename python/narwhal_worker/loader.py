"""Import the WSGI callable from an APP_MODULE spec, with Gunicorn's forms and messages.

``module:name``, ``module`` (name ``application``), ``module:factory()`` and
``module:factory('arg', key=1)`` — factory arguments must be Python literals
(``ast.literal_eval``), never arbitrary code.
"""

import ast
import importlib
import inspect
import os


class AppLoadError(Exception):
    """The spec is malformed or names nothing callable: one line, no traceback needed."""


def parse_spec(spec):
    """Return (module, name, args, kwargs); args is None when the spec is not a call."""
    module, sep, obj = spec.partition(":")
    if not sep:
        obj = "application"
    if not module or not obj:
        raise AppLoadError("Invalid APP_MODULE %r: expected MODULE or MODULE:NAME." % spec)
    try:
        expr = ast.parse(obj.strip(), mode="eval").body
    except SyntaxError:
        raise AppLoadError("Failed to parse %r as an attribute name or function call." % obj) from None
    if isinstance(expr, ast.Name):
        return module, expr.id, None, None
    if isinstance(expr, ast.Call):
        if not isinstance(expr.func, ast.Name):
            raise AppLoadError("Function reference must be a simple name: %r" % obj)
        if any(isinstance(a, ast.Starred) for a in expr.args) or any(k.arg is None for k in expr.keywords):
            raise AppLoadError("Failed to parse arguments as literal values: %r" % obj)
        try:
            args = [ast.literal_eval(a) for a in expr.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in expr.keywords}
        except ValueError:
            raise AppLoadError("Failed to parse arguments as literal values: %r" % obj) from None
        return module, expr.func.id, args, kwargs
    raise AppLoadError("Failed to parse %r as an attribute name or function call." % obj)


def load_app(spec):
    """Import and return the callable. Import errors propagate with their traceback."""
    module, name, args, kwargs = parse_spec(spec)
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if module.endswith(".py") and os.path.exists(module) and err.name == module[:-3]:
            raise AppLoadError("Failed to find application, did you mean '%s:%s'?"
                               % (module[:-3], name)) from None
        raise
    try:
        app = getattr(mod, name)
    except AttributeError:
        raise AppLoadError("Failed to find attribute %r in %r." % (name, module)) from None
    if args is not None:
        try:
            inspect.signature(app).bind(*args, **kwargs)
        except TypeError as err:
            raise AppLoadError("%s: %s" % (type(err).__name__, err)) from None
        except ValueError:
            pass  # builtins without a signature: let the call decide
        app = app(*args, **kwargs)
    if app is None:
        raise AppLoadError("Failed to find application object: %r" % spec.partition(":")[2])
    if not callable(app):
        raise AppLoadError("Application object must be callable.")
    return app
