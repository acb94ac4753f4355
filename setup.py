"""Build the Cython kernels (optimised, with OpenMP where the compiler has it)."""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup


def _openmp_flags():
    """Return (compile, link) flags for OpenMP, or ([], []) if unsupported."""
    if os.environ.get("QNESS_NO_OPENMP"):
        return [], []
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0]
    if shutil.which(cc) is None:
        return [], []
    flag = "-fopenmp" if sys.platform != "darwin" else "-Xpreprocessor -fopenmp"
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        c = Path(tmp) / "t.c"
        c.write_text(src)
        try:
            res = subprocess.run(
                [cc, *flag.split(), str(c), "-o", str(Path(tmp) / "t"), "-lgomp"],
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            return [], []
    if res.returncode != 0:
        print("qness: OpenMP not available, building single-threaded kernels", file=sys.stderr)
        return [], []
    return flag.split(), ["-fopenmp"] if sys.platform != "darwin" else ["-lomp"]


omp_c, omp_l = _openmp_flags()
opt = ["-O3"] if sys.platform != "win32" else ["/O2"]
kernels = ["assemble", "apply", "sector", "chebyshev"]
extensions = [
    Extension(
        f"qness._kernels.{name}",
        [f"qness/_kernels/{name}.pyx"],
        include_dirs=[np.get_include()],
        extra_compile_args=opt + omp_c,
        extra_link_args=omp_l,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
    )
    for name in kernels
    if Path(f"qness/_kernels/{name}.pyx").exists()
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
