"""`python -m garrison.guard`: the daemon without the CLI's imports (garrison.cli.guard_main)."""

from __future__ import annotations

import sys

from garrison.cli.guard_main import main

if __name__ == "__main__":
    sys.exit(main())
