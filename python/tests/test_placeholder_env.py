import sys
import unittest


class InterpreterTest(unittest.TestCase):
    def test_python_is_supported(self):
        self.assertGreaterEqual(sys.version_info[:2], (3, 9))


if __name__ == "__main__":
    unittest.main()
