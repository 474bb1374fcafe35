"""bindings/python/setup.py — builds the plugbay package, its cffi module (plugbay_build.py) and its C module
plugbay._cross (values crossing to libplugbay and back), both against the libplugbay plugbay_build.py finds."""
import os
import sys

from setuptools import Extension, setup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugbay_build import include_dirs, library_dirs  # noqa: E402  (after the path it is found on)

setup(
    name="plugbay",
    version="0.1.0",
    description="Host plugbay plugins from Python: a thin layer over libplugbay",
    packages=["plugbay"],
    package_data={"plugbay": ["py.typed", "*.pyi"]},
    python_requires=">=3.9",
    setup_requires=["cffi>=1.15"],
    install_requires=["cffi>=1.15"],
    cffi_modules=["plugbay_build.py:ffibuilder"],
    ext_modules=[Extension("plugbay._cross", ["plugbay/_cross.c"], include_dirs=include_dirs,
                           library_dirs=library_dirs, libraries=["plugbay"],
                           extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
                           extra_link_args=[f"-Wl,-rpath,{d}" for d in library_dirs])],
    zip_safe=False,
)
