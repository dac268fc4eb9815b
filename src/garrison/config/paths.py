"""[paths]: where garrison keeps its state, runtime files and logs on the host."""

from __future__ import annotations

from pydantic import Field

from garrison.config.base import StrictModel


class PathsConfig(StrictModel):
    """[paths] (tests point these into a temp dir)."""

    state_dir: str = Field(
        "/var/lib/garrison", description="baselines, manifests, alert database, custody log"
    )
    run_dir: str = Field("/run/garrison", description="pending confirmations, pid files")
    log_dir: str = Field("/var/log/garrison", description="structured logs")
