"""APP_MODULE forms, as Gunicorn's import_app."""
import sys
import unittest

from narwhal_worker.loader import AppLoadError, load_app, parse_spec

from .support import APPS_DIR


class Loader(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, APPS_DIR)

    @classmethod
    def tearDownClass(cls):
        sys.path.remove(APPS_DIR)

    def call(self, app):
        seen = {}

        def start_response(status, headers, exc_info=None):
            seen["status"] = status

        body = b"".join(app({}, start_response))
        return seen["status"], body

    def test_module_colon_callable(self):
        self.assertEqual(self.call(load_app("hello:process_http_request")), ("200 OK", b"Hello World\n"))

    def test_module_alone_means_application(self):
        self.assertEqual(self.call(load_app("hello")), ("200 OK", b"Hello World\n"))

    def test_factory_call_with_literal_arguments(self):
        self.assertEqual(self.call(load_app("hello:make_app()"))[1], b"Hello!")
        self.assertEqual(self.call(load_app("hello:make_app('Hi', punct='?')"))[1], b"Hi?")

    def test_parse_spec(self):
        self.assertEqual(parse_spec("a.b:c"), ("a.b", "c", None, None))
        self.assertEqual(parse_spec("a.b"), ("a.b", "application", None, None))
        self.assertEqual(parse_spec("m:f(1, [2], k={'x': None})"), ("m", "f", [1, [2]], {"k": {"x": None}}))

    def test_errors_are_one_line_reasons(self):
        cases = {
            "hello:missing": "Failed to find attribute 'missing' in 'hello'.",
            "hello:not_callable": "Application object must be callable.",
            "hello:make_app(os.getcwd())": "Failed to parse arguments as literal values: 'make_app(os.getcwd())'",
            "hello:a.b": "Failed to parse 'a.b' as an attribute name or function call.",
            "hello:x.y()": "Function reference must be a simple name: 'x.y()'",
            "hello:make_app(1, 2, 3)": "TypeError: too many positional arguments",
            "hello:": "Invalid APP_MODULE 'hello:': expected MODULE or MODULE:NAME.",
        }
        for spec, message in cases.items():
            with self.subTest(spec):
                with self.assertRaises(AppLoadError) as cm:
                    load_app(spec)
                self.assertEqual(str(cm.exception), message)

    def test_import_errors_propagate_with_their_traceback(self):
        with self.assertRaises(ModuleNotFoundError):
            load_app("no_such_module_xyz:app")
        with self.assertRaises(ModuleNotFoundError) as cm:
            load_app("broken_import:app")
        self.assertEqual(cm.exception.name, "this_module_does_not_exist_anywhere")


if __name__ == "__main__":
    unittest.main()
