"""bridges/python/policy.py — the restricted policy's first two layers: the source check and the plugin's view of Python.

plugbay-worker-python embeds this file and runs it once, before any plugin code; every module of a
plugin is then loaded through Plugin.load().

Layer 1, check(): a plugin's source, parsed with the ast module, may not name private attributes
("_x", "__class__"), the interpreter's internals (gi_frame, f_globals, mro, ...), dunder names
outside a class body, eval/exec/compile, globals/locals/vars, BaseException and its kin, a bare
except, a relative import or a module outside the allowlist.

Layer 2, Plugin: the plugin's globals get restricted builtins (no eval, exec, compile, globals, vars,
input or breakpoint; getattr, setattr, delattr, hasattr, type, open and __import__ are guarded; a
format string cannot reach private attributes), and an import hands out a stand-in module that
shows only the module's public names.

Layer 3, the audit hook that refuses files, programs, sockets and native code at run time, is C
(bridges/python/audit.c) so that Python code cannot remove it. docs/python-plugins.md tells what each
layer refuses and where it stops: the worker process and the OS sandbox are the real wall.
"""

import _ast as ast  # the C module alone: the ast package's helpers cost a worker 1.5 MB and 9 ms
import _string
import builtins
import gc
import io
import os.path
import sys
import types

# Modules a plugin may import without asking (with their submodules). The permission
# "python.import:NAME" in plugin.json adds NAME once the user grants it.
MODULES = frozenset({
    "base64", "binascii", "bisect", "calendar", "cmath", "collections", "copy", "csv", "datetime",
    "decimal", "difflib", "enum", "fractions", "functools", "hashlib", "heapq", "hmac", "html", "io",
    "ipaddress", "itertools", "json", "math", "os.path", "random", "re", "secrets", "statistics", "struct",
    "textwrap", "time", "unicodedata", "urllib.parse", "uuid", "zlib",
})

# The plugbay module the worker hands every plugin, and its submodules.
PLUGBAY_MODULES = ("plugbay", "plugbay.store", "plugbay.timer", "plugbay.plugins")

# Why a plugin may not pass open() an opener.
_OPENER = "an opener hands back any file descriptor, the worker's own among them"

# Public names an allowed module keeps from plugins, and why.
WITHHELD = {
    "functools": {
        "singledispatch": "it evaluates annotations written as strings, which the source check never sees",
        "singledispatchmethod": "it evaluates annotations written as strings, which the source check never sees",
    },
    "io": dict.fromkeys(("open", "FileIO"), f"it takes an opener, and {_OPENER}; use open()"),
}

# Names the source check refuses wherever they appear, and why.
REFUSED_NAMES = {
    "eval": "it runs code from a string, which this check cannot see",
    "exec": "it runs code from a string, which this check cannot see",
    "compile": "it makes code from a string, which this check cannot see",
    "globals": "it hands out a namespace holding the interpreter's private entries",
    "locals": "it hands out a namespace holding the interpreter's private entries",
    "vars": "it hands out an object's namespace, private entries included",
    **dict.fromkeys(
        ("BaseException", "BaseExceptionGroup", "KeyboardInterrupt", "SystemExit", "GeneratorExit"),
        "catch Exception instead: plugbay stops a call that is cancelled or past its deadline with an exception "
        "that must get through"),
}

# Public attribute names that still reach the interpreter's frames, code or class internals.
INTERNALS = frozenset({
    "mro", "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "cr_origin",
    "ag_frame", "ag_code", "ag_await", "f_back", "f_builtins", "f_code", "f_globals", "f_locals",
    "f_trace", "tb_frame", "tb_next", "co_code", "co_consts", "func_globals", "func_code",
})

# Names with a leading underscore that are public all the same: namedtuple's documented interface.
NAMEDTUPLE_API = frozenset({"_asdict", "_replace", "_make", "_fields", "_field_defaults"})

# The dunder methods a plugin may reach through super(): each does no more than the operation it
# implements (none of them reads attributes by name or rebuilds objects).
SUPER_METHODS = frozenset({
    "__init__", "__repr__", "__str__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
    "__hash__", "__bool__", "__len__", "__iter__", "__contains__", "__getitem__", "__setitem__",
    "__delitem__", "__enter__", "__exit__",
})

# Builtins a plugin gets as they are; getattr, setattr, delattr, hasattr, type, open and __import__
# are guarded (_restricted_builtins, Plugin), and every exception class but those of REFUSED_NAMES is added.
SAFE_BUILTINS = (
    "Ellipsis", "NotImplemented", "abs", "aiter", "all", "anext", "any", "ascii", "bin", "bool",
    "bytearray", "bytes", "callable", "chr", "classmethod", "complex", "dict", "dir", "divmod",
    "enumerate", "filter", "float", "format", "frozenset", "hash", "hex", "id", "int", "isinstance",
    "issubclass", "iter", "len", "list", "map", "max", "memoryview", "min", "next", "object", "oct",
    "ord", "pow", "print", "property", "range", "repr", "reversed", "round", "set", "slice",
    "sorted", "staticmethod", "str", "sum", "super", "tuple", "zip", "__build_class__",
)

# Types type() does not hand out: with them a plugin could build functions, code, classes, or files
# on any descriptor.
HIDDEN_TYPES = (
    types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.CodeType, types.FrameType,
    types.TracebackType, types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType,
    types.ModuleType, types.MappingProxyType, types.CellType, types.MethodWrapperType,
    types.WrapperDescriptorType, types.MethodDescriptorType, types.ClassMethodDescriptorType,
    types.GetSetDescriptorType, types.MemberDescriptorType, io.FileIO,
)

# The two str methods whose templates can read attributes: "{0.__class__}".format(x).
FORMATTERS = ("format", "format_map")


class PolicyError(PermissionError):
    """The restricted policy refused something; the caller of the plugin gets BAY_EPERM."""


PolicyError.__module__ = "plugbay"


# ---- layer 1: the source check ---------------------------------------------------------------


def _children(node):
    """The nodes directly below node, in source order."""
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, ast.AST):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, ast.AST))


class _Visitor:
    """Calls visit_KIND(node) for each node it is given, or visits the node's children."""

    def visit(self, node):
        return getattr(self, "visit_" + type(node).__name__, self.generic_visit)(node)

    def generic_visit(self, node):
        for child in _children(node):
            self.visit(child)


def _is_super_call(node):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


class _Checker(_Visitor):
    """Walks one module's syntax tree and collects what the policy refuses in it."""

    def __init__(self, filename, import_refusal):
        self.filename = filename
        self.import_refusal = import_refusal  # (module, names) -> why it is refused, or None
        self.problems = []
        self.scopes = ["module"]  # "module", "class" or "function", innermost last

    def refuse(self, node, text):
        self.problems.append(f"{self.filename}:{node.lineno}:{node.col_offset + 1}: {text}")

    def name(self, node, name, binds_here):
        """Checks a name the code uses, or binds in the current scope when binds_here."""
        if name in REFUSED_NAMES:
            self.refuse(node, f"{name} is refused: {REFUSED_NAMES[name]}")
        elif name.startswith("__") and not (binds_here and self.scopes[-1] == "class"):
            self.refuse(node, f'name "{name}" is refused: names starting with "__" are the interpreter\'s '
                              f"(only a class body may define them)")

    def scope(self, kind, nodes):
        self.scopes.append(kind)
        for node in nodes:
            self.visit(node)
        self.scopes.pop()

    def visit_Name(self, node):
        self.name(node, node.id, isinstance(node.ctx, ast.Store))

    def visit_Attribute(self, node):
        attr = node.attr
        if attr.startswith("_") and attr not in NAMEDTUPLE_API and not (
                attr in SUPER_METHODS and _is_super_call(node.value)):
            self.refuse(node, f'attribute "{attr}" is refused: names starting with "_" are private')
        elif attr in INTERNALS:
            self.refuse(node, f'attribute "{attr}" is refused: it reaches the interpreter\'s frames or code')
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        self.name(node, node.name, binds_here=True)
        for child in node.decorator_list + [node.args] + ([node.returns] if node.returns else []):
            self.visit(child)
        self.scope("function", node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self.visit(node.args)
        self.scope("function", [node.body])

    def visit_arg(self, node):
        self.name(node, node.arg, binds_here=False)
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        self.name(node, node.name, binds_here=True)
        for child in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(child)
        self.scope("class", node.body)

    def comprehension(self, node):
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        self.scope("function", parts + node.generators)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = comprehension

    def visit_Import(self, node):
        for alias in node.names:
            why = self.import_refusal(alias.name, ())
            if why:
                self.refuse(node, why)
            self.name(node, alias.asname or alias.name.partition(".")[0], binds_here=True)

    def visit_ImportFrom(self, node):
        if node.level:
            self.refuse(node, "relative imports are refused: a plugin's own modules are the .py files beside its "
                              "entry; import them by name (import helpers)")
            return
        why = self.import_refusal(node.module, [a.name for a in node.names if a.name != "*"])
        if why:
            self.refuse(node, why)
        for alias in node.names:
            if alias.name.startswith("_"):
                self.refuse(node, f'importing "{alias.name}" from {node.module} is refused: names starting with '
                                  f'"_" are private')
            elif alias.name != "*":
                self.name(node, alias.asname or alias.name, binds_here=True)

    def visit_ExceptHandler(self, node):
        if node.type is None:
            self.refuse(node, "a bare except is refused: it would catch plugbay's stop of a cancelled call; "
                              "write except Exception")
        if node.name:
            self.name(node, node.name, binds_here=False)
        self.generic_visit(node)

    def visit_Global(self, node):
        for name in node.names:
            self.name(node, name, binds_here=False)

    visit_Nonlocal = visit_Global

    def visit_MatchClass(self, node):
        for attr in node.kwd_attrs:
            if attr.startswith("_") or attr in INTERNALS:
                self.refuse(node, f'matching attribute "{attr}" is refused: it is private or internal')
        self.generic_visit(node)

    def visit_MatchAs(self, node):
        if node.name:
            self.name(node, node.name, binds_here=False)
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node):
        if node.rest:
            self.name(node, node.rest, binds_here=False)
        self.generic_visit(node)


def check(tree, filename, import_refusal):
    """Returns what the policy refuses in a module's syntax tree, one "FILE:LINE:COLUMN: why" line
    each; an empty list when the module passes. import_refusal(module, names) says why an import
    is refused, or returns None."""
    checker = _Checker(filename, import_refusal)
    checker.visit(tree)
    return checker.problems


def _guard_format(node):
    """Rewrites the tree below node, turning every read of an attribute named format or format_map
    into __bay_format__(obj, name), which checks the templates of str.format and str.format_map
    (see _formatting). Returns the node that replaces node."""
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, ast.AST):
            setattr(node, field, _guard_format(value))
        elif isinstance(value, list):
            value[:] = [_guard_format(item) if isinstance(item, ast.AST) else item for item in value]
    if not (isinstance(node, ast.Attribute) and node.attr in FORMATTERS and isinstance(node.ctx, ast.Load)):
        return node
    where = {a: getattr(node, a) for a in ("lineno", "col_offset", "end_lineno", "end_col_offset")}
    guard = ast.Name("__bay_format__", ast.Load(), **where)
    return ast.Call(guard, [node.value, ast.Constant(node.attr, **where)], [], **where)


# ---- layer 2: the plugin's view of Python ----------------------------------------------------


def _attribute_name(name, where="attribute"):
    """The exact str of an attribute name a plugin passes, or PolicyError when it is private or
    internal (a str subclass cannot lie about its text: the check and the use read the same one)."""
    if not isinstance(name, str):
        raise TypeError(f"{where} name must be str, not {type(name).__name__}")
    name = str.__str__(name)
    if (name.startswith("_") and name not in NAMEDTUPLE_API) or name in INTERNALS:
        raise PolicyError(f"{where} {name!r} is refused: attributes starting with \"_\" and the interpreter's "
                          f"internals are not open to plugins")
    return name


def _check_template(template):
    """Refuses a str.format template whose fields read private or internal attributes."""
    for _text, field, spec, _conversion in _string.formatter_parser(template):
        if field:
            for is_attribute, key in _string.formatter_field_name_split(field)[1]:
                if is_attribute:
                    _attribute_name(key, "format field attribute")
        if spec:
            _check_template(spec)


def _checked_format(method):
    """str.format (or format_map) taken from the type: checks the template of each call."""

    def checked(template, *args, **kwargs):
        if isinstance(template, str):
            _check_template(template)
        return method(template, *args, **kwargs)

    return checked


def _formatting(value):
    """value, made safe when it is str.format or str.format_map, bound or not."""
    if value is str.format or value is str.format_map:
        return _checked_format(value)
    if type(value) is types.BuiltinMethodType and isinstance(value.__self__, str) \
            and value.__name__ in FORMATTERS:
        _check_template(value.__self__)
    return value


def _guarded_getattr(obj, name, *default):
    name = _attribute_name(name)
    value = getattr(obj, name, *default)
    return _formatting(value) if name in FORMATTERS else value


def _guarded_hasattr(obj, name):
    return hasattr(obj, _attribute_name(name))


def _guarded_setattr(obj, name, value):
    setattr(obj, _attribute_name(name), value)


def _guarded_delattr(obj, name):
    delattr(obj, _attribute_name(name))


def _guarded_type(*args):
    if len(args) != 1:
        raise PolicyError("type(name, bases, namespace) is refused: define classes with a class statement")
    cls = type(args[0])
    if issubclass(cls, type) or cls in HIDDEN_TYPES:
        raise PolicyError(f"type() of a {cls.__name__} object is refused: that type builds functions, code or "
                          f"classes; use isinstance() or callable() instead")
    return cls


def _guarded_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True,
                  opener=None):
    if opener is not None:
        raise PolicyError(f"open(..., opener=...) is refused: {_OPENER}")
    return open(file, mode, buffering, encoding, errors, newline, closefd)


def _format_guard(obj, name):
    return _formatting(getattr(obj, name))


def _withheld_getter(module, withheld):
    """A module __getattr__ that explains the names WITHHELD keeps from plugins."""

    def getter(name):
        if name in withheld:
            raise PolicyError(f"{module}.{name} is withheld from plugins: {withheld[name]}")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return getter


# functools.update_wrapper reads and writes attributes named by strings, __dict__ among them: handed
# a wrapper whose __setattr__ or __getattribute__ is the plugin's, it gives the plugin any object's
# private attributes. The plugin's versions copy the four names a wrapper shows, as text only.
_WRAPPER_NAMES = ("__module__", "__name__", "__qualname__", "__doc__")


def _update_wrapper(wrapper, wrapped):
    """functools.update_wrapper for plugins: copies wrapped's name, qualified name, module and
    docstring (when they are str) to wrapper, sets wrapper.__wrapped__, returns wrapper."""
    for name in _WRAPPER_NAMES:
        value = getattr(wrapped, name, None)
        if type(value) is str:
            setattr(wrapper, name, value)
    wrapper.__wrapped__ = wrapped
    return wrapper


def _wraps(wrapped):
    """functools.wraps for plugins: a decorator applying _update_wrapper(wrapper, wrapped)."""
    return lambda wrapper: _update_wrapper(wrapper, wrapped)


# Public names an allowed module shows plugins in a version of the policy's own.
REPLACED = {"functools": {"wraps": _wraps, "update_wrapper": _update_wrapper}}


def _restricted_builtins():
    """The builtins every module of a plugin shares, before Plugin adds its guarded __import__."""
    table = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    for name, value in vars(builtins).items():
        if isinstance(value, type) and issubclass(value, BaseException) and name not in REFUSED_NAMES:
            table[name] = value
    table.update(getattr=_guarded_getattr, hasattr=_guarded_hasattr, setattr=_guarded_setattr,
                 delattr=_guarded_delattr, type=_guarded_type, open=_guarded_open, __bay_format__=_format_guard)
    return table


class Plugin:
    """One plugin's view of Python: its restricted builtins, the modules it may import (as
    stand-ins) and its own modules, the .py files beside its entry."""

    def __init__(self, root, entry, granted, plugbay):
        """root is the plugin's folder, entry the manifest's entry ("main.py", "src/main.py"),
        granted the module names of its python.import:NAME permissions, plugbay the plugbay module."""
        self.root = root
        self.subfolder, file = os.path.split(entry)
        self.entry = file[:-3] if file.endswith(".py") else file
        self.modules = MODULES | {"__future__"} | frozenset(granted)
        self.plugbay = plugbay
        self.stand_ins = {}  # module name -> the stand-in the plugin sees
        self.own = {}  # name of one of the plugin's own modules -> that module
        self.builtins = _restricted_builtins()
        self.builtins["__import__"] = self.import_

    def load_entry(self):
        """Loads the plugin's entry module and returns it."""
        return self.load(self.entry)

    def load(self, name):
        """Returns the plugin's own module name, loading FOLDER/name.py the first time: read,
        checked (PolicyError lists every problem), compiled and run with the restricted builtins."""
        module = self.own.get(name)
        if module is not None:
            return module
        filename = os.path.join(self.subfolder, name + ".py")
        with open(os.path.join(self.root, filename), "rb") as f:
            tree = compile(f.read(), filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        problems = check(tree, filename, self.import_refusal)
        if problems:
            raise PolicyError("; ".join(problems))
        code = compile(_guard_format(tree), filename, "exec", dont_inherit=True)
        module = types.ModuleType(name)
        module.__builtins__ = self.builtins
        self.own[name] = module  # before it runs, so that its imports may come back to it
        try:
            exec(code, vars(module))
        except BaseException:
            del self.own[name]
            raise
        return module

    def _is_own(self, name):
        return name.isidentifier() and os.path.isfile(os.path.join(self.root, self.subfolder, name + ".py"))

    def _allowed(self, name):
        return any(name == m or name.startswith(m + ".") for m in self.modules)

    def import_refusal(self, module, names):
        """Why `import module` (or `from module import names`) is refused, or None."""
        top = module.partition(".")[0]
        if module in PLUGBAY_MODULES:
            return None
        if self._is_own(top):
            return None if module == top else (f"import of {module!r} is refused: the plugin's own modules are "
                                               f"single files ({top}.py), not packages")
        if self._allowed(module) or (names and all(self._allowed(f"{module}.{n}") for n in names)):
            return None
        return (f"import of module {module!r} is refused: it is not among the modules of docs/python-plugins.md; "
                f"a plugin may ask for it with the permission \"python.import:{module}\"")

    def import_(self, name, globals=None, locals=None, fromlist=(), level=0):
        """The plugin's __import__: the checks of import_refusal, then a stand-in of the module."""
        if not isinstance(name, str):
            raise TypeError(f"module name must be str, not {type(name).__name__}")
        name = str.__str__(name)
        if level:
            raise PolicyError("relative imports are refused: import the plugin's own modules by name")
        fromlist = tuple(str.__str__(n) for n in fromlist or ())
        why = self.import_refusal(name, [n for n in fromlist if n != "*"])
        if why:
            raise PolicyError(why)
        top = name.partition(".")[0]
        if name in PLUGBAY_MODULES:
            return getattr(self.plugbay, name.partition(".")[2]) if name != "plugbay" and fromlist else self.plugbay
        if self._is_own(top):
            return self.load(top)
        builtins.__import__(name, None, None, fromlist, 0)
        for loaded in [name] + [f"{name}.{n}" for n in fromlist if f"{name}.{n}" in sys.modules]:
            self._link(loaded)
        return self._stand_in(name if fromlist else top)

    def _link(self, name):
        """Makes each allowed submodule on the way to name an attribute of its parent's stand-in."""
        parts = name.split(".")
        for i in range(1, len(parts)):
            child = ".".join(parts[:i + 1])
            if self._allowed(child):
                setattr(self._stand_in(".".join(parts[:i])), parts[i], self._stand_in(child))

    def _stand_in(self, name, exported=False):
        """The stand-in of the loaded module name: a module holding its public names (those of
        __all__ when it has one), or nothing but linked submodules when the module itself is not
        allowed; exported says an allowed module lists it in its __all__ (os.path)."""
        stand_in = self.stand_ins.get(name)
        if stand_in is not None:
            return stand_in
        module = sys.modules[name]
        stand_in = self.stand_ins[name] = types.ModuleType(name)
        if not (exported or self._allowed(name)):
            return stand_in
        listed = getattr(module, "__all__", None)
        withheld = WITHHELD.get(name, {})
        replaced = REPLACED.get(name, {})
        for key in listed if listed is not None else list(vars(module)):
            if not isinstance(key, str) or key.startswith("_") or key in withheld or not hasattr(module, key):
                continue
            value = replaced.get(key) or getattr(module, key)
            if isinstance(value, types.ModuleType):
                if listed is None:
                    continue  # a module it imported for itself (random.os), not part of its interface
                value = self._stand_in(value.__name__, exported=True)
            setattr(stand_in, key, value)
        if withheld:
            stand_in.__getattr__ = _withheld_getter(name, withheld)
        return stand_in


def warm():
    """Imports every module a plugin may import without asking, in the zygote before any plugin
    (bridges/common/zygote.h): each worker forked from it finds them imported, their pages shared.
    gc.freeze() then keeps the collector from writing to the zygote's objects in each worker."""
    for name in sorted(MODULES):
        __import__(name)
    gc.collect()
    gc.freeze()


def forked():
    """In a worker forked from the zygote: random, seeded when warm() imported it, is seeded again
    from os.urandom, so that no two workers draw the same numbers."""
    r = sys.modules.get("random")
    if r is not None:
        r.seed()
