# plugbay/_native.pyi — the cffi module compiled at install (plugbay_build.py): its ffi and lib are untyped.
from typing import Any

ffi: Any
lib: Any
