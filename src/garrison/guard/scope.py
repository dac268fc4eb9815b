"""What the guard watches, derived from the config: rule macros, roots to mark, a path filter."""

from __future__ import annotations

from dataclasses import dataclass

from garrison.config.schema import Config
from garrison.guard.pathglob import PathFilter, literal_prefix

PYTHON_STARTUP = (
    "lib/python*/site-packages/*.pth",
    "lib/python*/site-packages/sitecustomize.py",
    "lib/python*/site-packages/usercustomize.py",
)


@dataclass(frozen=True)
class GuardScope:
    """macros feed the rules; roots decide which filesystems are marked; filter drops the rest."""

    macros: dict[str, list[str]]
    roots: tuple[str, ...]
    filter: PathFilter


def build_scope(config: Config) -> GuardScope:
    guard = config.guard
    code_dirs = [s.code_dir for s in config.strategies if s.code_dir]
    venvs = [s.venv for s in config.strategies if s.venv] + list(guard.watch.venvs)
    protected = list(dict.fromkeys([*guard.protected_paths, *code_dirs]))
    watch = guard.watch
    macros: dict[str, list[str]] = {
        "protected": protected,
        "code_dirs": code_dirs,
        "venvs": venvs,
        "python_startup": [f"{v.rstrip('/')}/{tail}" for v in venvs for tail in PYTHON_STARTUP],
        "ssh_keys": list(watch.ssh_keys),
        "cron": list(watch.cron),
        "systemd": list(watch.systemd),
        "shell_profiles": list(watch.shell_profiles),
        "privilege_files": list(watch.privilege_files),
        "state_dir": [config.paths.state_dir],
        "data_paths": [f"{d.rstrip('/')}/{g}" for d in code_dirs for g in guard.data_globs],
    }
    patterns = [
        *protected,
        *venvs,
        *watch.ssh_keys,
        *watch.cron,
        *watch.systemd,
        *watch.shell_profiles,
        *watch.privilege_files,
    ]
    roots = tuple(sorted({literal_prefix(p) for p in patterns}))
    return GuardScope(macros=macros, roots=roots, filter=PathFilter(patterns))
