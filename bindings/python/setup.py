"""bindings/python/setup.py — builds the plugbay package and its cffi module (plugbay_build.py)."""
from setuptools import setup

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
    zip_safe=False,
)
