"""The guard daemon's lean entry point, `python -m garrison.guard`.

It avoids the CLI's imports (rich, click, every command module), which keeps the resident set
about 6 MB smaller. `garrison guard` execs it; the systemd unit can too. Same options as
`garrison guard`; errors are one line, exit 2. It lives under cli/ because it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from garrison.errors import GarrisonError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="garrison guard", description=__doc__)
    parser.add_argument("--config", "-c")
    parser.add_argument("--for", dest="duration", type=float)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    try:
        from garrison.config import load_config
        from garrison.guard.daemon import GuardDaemon
        from garrison.guard.jsonlog import setup_json_logging
        from garrison.guard.render import render_summary

        config = load_config(args.config)
        setup_json_logging()
        daemon = GuardDaemon(config)
        summary = asyncio.run(daemon.run(duration_s=args.duration, once=args.once))
    except GarrisonError as exc:
        print(f"garrison: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    if args.duration is not None or args.once:
        sys.stdout.write(render_summary(summary, args.format))
    return 0
