"""The shipped systemd unit, rendered with this installation's paths."""

from __future__ import annotations

import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path

from garrison.config.schema import Config
from garrison.errors import UsageError


def render_unit(config: Config, config_path: str | None) -> str:
    template = resources.files("garrison.guard").joinpath("garrison-guard.service").read_text()
    garrison = shutil.which("garrison") or str(Path(sys.executable).with_name("garrison"))
    argv = [garrison, "guard"]
    if config_path:
        argv = [garrison, "--config", str(Path(config_path).resolve()), "guard"]
    paths, guard = config.paths, config.guard
    # Everything the guard writes; "-" lets systemd skip a directory that does not exist yet.
    writable = [paths.state_dir, paths.run_dir, paths.log_dir]
    for extra in (guard.alert_db, guard.status_file, guard.metrics_textfile):
        if extra:
            writable.append(str(Path(extra).parent))
    dirs = " ".join(f"-{d}" for d in dict.fromkeys(writable))
    return template.replace("{exec_start}", shlex.join(argv)).replace("{writable}", dirs)


def install_unit(text: str, target: Path) -> Path:
    """Write the unit (never enables or starts it)."""
    if target.is_dir() or (not target.exists() and target.suffix != ".service"):
        target = target / "garrison-guard.service"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(target)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the unit: {exc.strerror or exc}") from None
    return target
