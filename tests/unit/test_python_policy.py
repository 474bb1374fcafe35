"""tests/unit/test_python_policy.py — the python bridge's source check and the plugin's view of Python (bridges/python/policy.py).

Run by ctest with the Python the worker embeds: python3.11 -I test_python_policy.py BRIDGES_PYTHON_DIR.
These tests run without the worker, so without its audit hook (the end-to-end tests have it).
"""
import ast
import os
import sys
import tempfile
import textwrap
import types
import unittest

sys.path.insert(0, sys.argv.pop(1))
import policy  # its folder comes from the command line, above


class PluginFolder:
    """A temporary plugin folder holding the given files (name -> source)."""

    def __init__(self, files, granted=()):
        self.dir = tempfile.TemporaryDirectory()
        for name, source in files.items():
            with open(os.path.join(self.dir.name, name), "w") as f:
                f.write(textwrap.dedent(source))
        self.plugbay = types.ModuleType("plugbay")
        self.plugin = policy.Plugin(self.dir.name, "main.py", granted, self.plugbay)

    def problems(self, name="main.py"):
        with open(os.path.join(self.dir.name, name), "rb") as f:
            return policy.check(ast.parse(f.read(), name), name, self.plugin.import_refusal)

    def load(self):
        return self.plugin.load_entry()

    def close(self):
        self.dir.cleanup()


def problems(source, granted=(), **others):
    """The source check's problems with main.py holding source (and other files beside it)."""
    folder = PluginFolder({"main.py": source, **others}, granted)
    try:
        return folder.problems()
    finally:
        folder.close()


class SourceCheck(unittest.TestCase):
    def assertRefused(self, source, *needles, **others):
        found = problems(source, **others)
        self.assertTrue(found, f"not refused: {source}")
        for needle in needles:
            self.assertTrue(any(needle in p for p in found), f"{needle!r} not in {found}")

    def assertPasses(self, source, **others):
        self.assertEqual(problems(source, **others), [])

    def test_private_attributes_are_refused_wherever_they_appear(self):
        self.assertRefused("x = ().__class__.__bases__[0].__subclasses__()",
                           'main.py:1:5: attribute "__subclasses__" is refused', 'attribute "__bases__"',
                           'attribute "__class__"')
        self.assertRefused("def f(o):\n    return o._private", 'main.py:2:12: attribute "_private" is refused')
        self.assertRefused("def f(o):\n    o.__dict__ = {}", 'attribute "__dict__"')
        self.assertRefused("x = f'{().__class__}'", 'attribute "__class__"')
        self.assertRefused("def f(o):\n    del o._x", 'attribute "_x"')

    def test_internal_attributes_are_refused(self):
        for attr in ("gi_frame", "f_globals", "f_back", "tb_frame", "mro", "cr_frame", "co_code"):
            self.assertRefused(f"def f(o):\n    return o.{attr}", f'attribute "{attr}" is refused')

    def test_super_reaches_only_the_operations_it_stands_for(self):
        self.assertPasses("class A(dict):\n    def __init__(self):\n        super().__init__()\n"
                          "    def __getitem__(self, k):\n        return super().__getitem__(k)")
        self.assertRefused("class A:\n    def f(self):\n        return super().__getattribute__('x')",
                           'attribute "__getattribute__"')
        self.assertRefused("class A:\n    def f(self):\n        return super().__setattr__('x', 1)",
                           'attribute "__setattr__"')

    def test_namedtuple_interface_is_public(self):
        self.assertPasses("import collections\nP = collections.namedtuple('P', 'x y')\n"
                          "p = P(1, 2)._replace(x=3)._asdict()\nfields = P._fields")

    def test_dunder_names_are_the_interpreters_except_in_a_class_body(self):
        self.assertRefused("__import__('os')", 'main.py:1:1: name "__import__" is refused')
        self.assertRefused("x = __builtins__", 'name "__builtins__"')
        self.assertRefused("def __getattr__(name):\n    pass", 'name "__getattr__"')
        self.assertRefused("def f(__x):\n    pass", 'name "__x"')
        self.assertRefused("if __name__ == '__main__':\n    pass", 'name "__name__"')
        self.assertPasses("class A:\n    __slots__ = ('a',)\n    def __init__(self):\n        self.a = 1\n"
                          "    def __repr__(self):\n        return 'A'")
        self.assertRefused("class A:\n    def f(self):\n        __x = 1", 'name "__x"')

    def test_code_from_strings_and_namespaces_are_refused(self):
        for name in ("eval", "exec", "compile", "globals", "locals", "vars"):
            self.assertRefused(f"x = {name}", f"main.py:1:5: {name} is refused")

    def test_the_stop_of_a_call_cannot_be_caught(self):
        self.assertRefused("try:\n    pass\nexcept:\n    pass", "main.py:3:1: a bare except is refused")
        for name in ("BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit", "BaseExceptionGroup"):
            self.assertRefused(f"try:\n    pass\nexcept {name}:\n    pass", f"{name} is refused")
        self.assertPasses("try:\n    pass\nexcept Exception as e:\n    pass")

    def test_imports_outside_the_allowlist_are_refused_and_grants_extend_it(self):
        self.assertRefused("import sys", "main.py:1:1: import of module 'sys' is refused",
                           'permission "python.import:sys"')
        self.assertRefused("from os import system", "import of module 'os' is refused")
        self.assertRefused("import ctypes.util", "import of module 'ctypes.util' is refused")
        self.assertPasses("import json, collections.abc, os.path, urllib.parse, plugbay\n"
                          "from urllib import parse\nfrom os import path\nfrom __future__ import annotations")
        self.assertEqual(problems("import sqlite3", granted=("sqlite3",)), [])
        self.assertEqual(problems("import xml.etree.ElementTree", granted=("xml",)), [])

    def test_relative_and_private_imports_are_refused(self):
        self.assertRefused("from . import helpers", "relative imports are refused")
        self.assertRefused("from json import _default_decoder", 'importing "_default_decoder" from json is refused')

    def test_the_plugins_own_modules_are_importable_but_not_as_packages(self):
        self.assertPasses("import helpers\nfrom helpers import x", **{"helpers.py": "x = 1\n"})
        self.assertRefused("import helpers.inner", "the plugin's own modules are single files",
                           **{"helpers.py": "x = 1\n"})

    def test_match_cannot_read_private_attributes(self):
        self.assertRefused("match 1:\n    case int(__class__=c):\n        pass", 'matching attribute "__class__"')

    def test_every_problem_is_listed_with_its_line_and_column(self):
        found = problems("import sys\n\ndef f():\n    return eval('1')\n")
        self.assertEqual(len(found), 2)
        self.assertTrue(found[0].startswith("main.py:1:1: "))
        self.assertTrue(found[1].startswith("main.py:4:12: "))


class PluginView(unittest.TestCase):
    def setUp(self):
        self.folders = []

    def tearDown(self):
        for folder in self.folders:
            folder.close()

    def load(self, source, granted=(), **others):
        folder = PluginFolder({"main.py": source, **others}, granted)
        self.folders.append(folder)
        return folder.load()

    def test_builtins_lack_what_runs_code_or_hands_out_namespaces(self):
        module = self.load("x = 1\n")
        table = vars(module)["__builtins__"]
        for name in ("eval", "exec", "compile", "globals", "locals", "vars", "input", "breakpoint",
                     "BaseException", "SystemExit", "KeyboardInterrupt"):
            self.assertNotIn(name, table)
        for name in ("open", "print", "len", "ValueError", "Exception", "super", "__build_class__", "__import__"):
            self.assertIn(name, table)

    def test_getattr_and_its_kin_refuse_private_names(self):
        module = self.load("""
            class S(str):
                def startswith(self, prefix):
                    return False

            def get(o, name):
                return getattr(o, name)

            def has(o, name):
                return hasattr(o, name)

            def put(o, name):
                setattr(o, name, 1)

            def lying():
                return getattr(get, S("__globals__"))
            """)
        with self.assertRaisesRegex(policy.PolicyError, "'__globals__' is refused"):
            module.get(module.get, "__glo" + "bals__")
        with self.assertRaisesRegex(policy.PolicyError, "'gi_frame' is refused"):
            module.get((x for x in ()), "gi_frame")
        with self.assertRaisesRegex(policy.PolicyError, "'__class__' is refused"):
            module.has(1, "__class__")
        with self.assertRaisesRegex(policy.PolicyError, "'_x' is refused"):
            module.put(module, "_x")
        with self.assertRaisesRegex(policy.PolicyError, "'__globals__' is refused"):
            module.lying()
        self.assertEqual(module.get("abc", "upper")(), "ABC")

    def test_type_hands_out_no_interpreter_type(self):
        module = self.load("""
            class Point:
                pass

            def of(o):
                return type(o)

            def build():
                return type("X", (), {})
            """)
        self.assertIs(module.of(1), int)
        self.assertIs(module.of(module.Point()), module.Point)
        for thing in (lambda: 0, len, module.of.__code__, (x for x in ()), module, int, [].append):
            with self.assertRaisesRegex(policy.PolicyError, r"type\(\) of a .* object is refused"):
                module.of(thing)
        with self.assertRaisesRegex(policy.PolicyError, "define classes with a class statement"):
            module.build()

    def test_format_templates_cannot_read_private_attributes(self):
        module = self.load("""
            class S(str):
                def shout(self):
                    return super().format(1)

            def bound(template):
                return template.format(len)

            def unbound(template):
                return str.format(template, len)

            def mapping(template):
                return template.format_map({"f": len})

            def fetched(template):
                return getattr(template, "format")(len)

            def sub(template):
                return S(template).shout()
            """)
        for call, template in ((module.bound, "{0.__class__}"), (module.unbound, "{0.__self__}"),
                               (module.mapping, "{f.__module__}"), (module.fetched, "{0.__doc__}"),
                               (module.bound, "{0:{0.__class__}}"), (module.sub, "{0.__class__}")):
            with self.assertRaisesRegex(policy.PolicyError, "format field attribute '__"):
                call(template)
        self.assertEqual(module.bound("{0!r:.5}"), "<buil")

    def test_wraps_copies_names_as_text_only(self):
        module = self.load("""
            import functools

            class Thief:
                def __setattr__(self, name, value):
                    stolen.append((name, value))

                def __call__(self):
                    return None

            stolen = []

            def steal(victim):
                functools.update_wrapper(Thief(), victim)
                return stolen

            def decorated():
                "The docstring."

            @functools.wraps(decorated)
            def wrapper():
                pass
            """)
        for name, value in module.steal(policy.check):
            self.assertTrue(name == "__wrapped__" or type(value) is str, f"{name} handed out {value!r}")
        self.assertEqual((module.wrapper.__name__, module.wrapper.__doc__), ("decorated", "The docstring."))
        self.assertIs(module.wrapper.__wrapped__, module.decorated)

    def test_open_takes_no_opener(self):
        module = self.load("""
            import io

            def with_opener(path):
                return open(path, "rb", opener=lambda p, flags: 0)

            def raw_type(path):
                with open(path, "rb") as f:
                    return type(f.raw)

            def io_open():
                return io.open
            """)
        with self.assertRaisesRegex(policy.PolicyError, r"open\(\.\.\., opener=\.\.\.\) is refused"):
            module.with_opener(__file__)
        with self.assertRaisesRegex(policy.PolicyError, r"type\(\) of a FileIO object is refused"):
            module.raw_type(__file__)
        with self.assertRaisesRegex(policy.PolicyError, "io.open is withheld"):
            module.io_open()

    def test_imports_hand_out_stand_ins_with_public_names_only(self):
        module = self.load("""
            import json
            import random
            import collections.abc
            import os.path
            from urllib import parse
            import functools
            """)
        self.assertTrue(hasattr(module.json, "loads"))
        self.assertFalse(hasattr(module.json, "decoder"), "json's own submodules stay out of its interface")
        self.assertFalse(hasattr(module.random, "os"), "modules a module imports for itself stay out")
        self.assertIsNot(module.json, sys.modules["json"])
        self.assertTrue(hasattr(module.collections.abc, "Mapping"))
        self.assertTrue(hasattr(module.os.path, "join"))
        self.assertFalse(hasattr(module.os, "system"), "os itself is not allowed, only os.path")
        self.assertTrue(hasattr(module.parse, "urlsplit"))
        with self.assertRaisesRegex(policy.PolicyError, "functools.singledispatch is withheld"):
            module.functools.singledispatch

    def test_import_guard_refuses_at_run_time(self):
        module = self.load("def probe():\n    return 1\n")
        importer = vars(module)["__builtins__"]["__import__"]
        with self.assertRaisesRegex(policy.PolicyError, "import of module 'sys' is refused"):
            importer("sys")
        with self.assertRaisesRegex(policy.PolicyError, "relative imports are refused"):
            importer("helpers", None, None, (), 1)
        plugbay = self.folders[-1].plugbay
        self.assertIs(importer("plugbay"), plugbay)
        for sub in ("store", "timer", "plugins"):
            setattr(plugbay, sub, types.ModuleType(f"plugbay.{sub}"))
            self.assertIs(importer(f"plugbay.{sub}"), plugbay, f"import plugbay.{sub} binds plugbay")
            self.assertIs(importer(f"plugbay.{sub}", None, None, ("list",)), getattr(plugbay, sub))
        with self.assertRaisesRegex(policy.PolicyError, "import of module 'plugbay.os' is refused"):
            importer("plugbay.os", None, None, ("system",))

    def test_own_modules_are_checked_and_loaded_once(self):
        module = self.load("import helpers\n\ndef again():\n    import helpers as h\n    return h\n",
                           **{"helpers.py": "counter = [1]\n"})
        self.assertIs(module.again(), module.helpers)
        with self.assertRaisesRegex(policy.PolicyError, r"bad\.py:1:5: attribute \"__class__\" is refused"):
            self.load("def late():\n    import bad\n", **{"bad.py": "x = ().__class__\n"}).late()

    def test_a_refused_entry_lists_every_problem(self):
        with self.assertRaisesRegex(policy.PolicyError, r"main\.py:1:1: .*'sys'.*; main\.py:2:5: eval is refused"):
            self.load("import sys\nx = eval('1')\n")


if __name__ == "__main__":
    unittest.main()
