"""Run a Gunicorn config file and print its public names as JSON (stdlib only).

    python narwhal_config_loader.py LOCATION CWD

LOCATION is a file path, ``file:PATH`` or ``python:MODULE`` (as Gunicorn's ``-c``). The
file is executed the way Gunicorn does it (module ``__config__``, CWD first on
``sys.path``), so computed values work: ``workers = multiprocessing.cpu_count() * 2 + 1``.

On success one JSON object goes to stdout (anything the file prints goes to stderr):

    {"file": "/abs/gunicorn.conf.py",
     "values":   {"workers": 5, "bind": ["127.0.0.1:8001"]},   JSON-serialisable values
     "others":   {"post_fork": "function", "cfg": "module"},   everything else, by type
     "lines":    {"workers": 3, ...}}                          last top-level assignment

Names starting with ``_`` are left out. On failure: the traceback on stderr, exit 1.
narwhal (src/config/pyconfig.ts) maps the names onto its settings table.
"""

import ast
import importlib
import importlib.machinery
import importlib.util
import json
import math
import os
import sys
import traceback


def jsonable(value, depth=0):
    """True when json.dumps would write exactly this value (tuples become lists)."""
    if depth > 20:
        return False
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(jsonable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and jsonable(v, depth + 1) for k, v in value.items())
    return False


def kind_of(value):
    if callable(value) and not isinstance(value, type):
        return "function"
    return type(value).__name__


def assignment_lines(path):
    """name -> line of its last top-level binding (for `unknown setting ... in FILE:LINE`)."""
    lines = {}
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return lines
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lines[node.name] = node.lineno
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    lines[n.id] = node.lineno
    return lines


def load(location):
    """Execute the config like gunicorn/app/base.py get_config_from_filename."""
    if location.startswith("python:"):
        mod = importlib.import_module(location[len("python:"):])
        return vars(mod), getattr(mod, "__file__", None)
    filename = location[len("file:"):] if location.startswith("file:") else location
    if not os.path.exists(filename):
        raise FileNotFoundError("%r doesn't exist" % filename)
    filename = os.path.abspath(filename)
    loader = importlib.machinery.SourceFileLoader("__config__", filename)
    spec = importlib.util.spec_from_file_location("__config__", filename, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["__config__"] = mod
    spec.loader.exec_module(mod)
    return vars(mod), filename


def main(argv):
    if len(argv) != 3:
        print("usage: narwhal_config_loader.py LOCATION CWD", file=sys.stderr)
        return 2
    location, cwd = argv[1], argv[2]
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    out = sys.stdout
    sys.stdout = sys.stderr  # a print() in the config must not corrupt the JSON
    try:
        names, filename = load(location)
    except SystemExit:
        raise
    except BaseException as e:
        # Show the config file's frames, not this loader's or importlib's.
        tb = e.__traceback__
        while tb is not None and (
            tb.tb_frame.f_code.co_filename == __file__
            or tb.tb_frame.f_code.co_filename.startswith("<frozen")
        ):
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
        sys.stderr.flush()
        return 1
    values, others = {}, {}
    for name, value in names.items():
        if name.startswith("_"):
            continue
        if jsonable(value):
            values[name] = value
        else:
            others[name] = kind_of(value)
    result = {
        "file": filename,
        "values": values,
        "others": others,
        "lines": assignment_lines(filename) if filename else {},
    }
    out.write(json.dumps(result))
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
