"""[paths]: where garrison keeps its state, runtime files and logs on the host."""

from __future__ import annotations

from garrison.config.base import StrictModel


class PathsConfig(StrictModel):
    """[paths] (tests point these into a temp dir)."""

    state_dir: str = "/var/lib/garrison"  # baselines, manifests, alert DB, custody log
    run_dir: str = "/run/garrison"  # pending-confirm markers, sockets, pid files
    log_dir: str = "/var/log/garrison"
