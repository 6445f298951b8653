"""Run several ``shopmatch`` commands in one process: ``python commands.py '[["train", ...], ...]'``.

Under ``torchrun`` this makes one launch (one start-up of torch and the process group) serve a test
that trains several model families data-parallel. Exits with the first non-zero exit code.
"""

from __future__ import annotations

import json
import sys

from shopmatch.cli import app

if __name__ == "__main__":
    for args in json.loads(sys.argv[1]):
        code = app(args, standalone_mode=False)
        if code:
            sys.exit(code)
