"""`python -m tagpilot.precompile`: write what every tagpilot process would otherwise compile again.

Two things, both beside the sources in `__pycache__` and both what Python itself would write when
allowed to: the bytecode of every module (as `compileall`, which pip runs when it installs a wheel, but
not for an editable install), and the compiled dataclass methods of `dataclass_code`. Both are written
whatever PYTHONDONTWRITEBYTECODE says, as `compileall` does: run it once after installing, or in a
container image's build, where the running commands may not write to the package. `make install` runs it.
"""

from __future__ import annotations

import compileall
import sys
from pathlib import Path

from tagpilot import dataclass_code


def main() -> int:
    """Compile the package's bytecode, then import every module and store its dataclass methods."""
    package = Path(dataclass_code.__file__).parent
    if not compileall.compile_dir(package, quiet=1):
        print(f"warning: some modules under {package} did not compile to bytecode", file=sys.stderr)
        return 1
    return dataclass_code.prime()


if __name__ == "__main__":
    sys.exit(main())
