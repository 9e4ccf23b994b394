"""Build of qinglang's compiled parts (everything else is in pyproject.toml).

The per-character loops of the scan path (HTML and JSON text extraction, normalisation,
the personal-information pre-pass) are Cython: plain Python semantics compiled to C,
bounds-checked, with no hand-written C.
"""

from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

# Every addons/qinglang/engine/_*.pyx is one extension module, qinglang.engine._<name>.
_MODULES = [
    Extension(f"qinglang.engine.{path.stem}", [str(path)], language="c++")
    for path in sorted(Path("addons/qinglang/engine").glob("_*.pyx"))
]

setup(
    ext_modules=cythonize(
        _MODULES,
        language_level=3,
        compiler_directives={"wraparound": False, "cdivision": True},
    )
)
