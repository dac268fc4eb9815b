"""[backup] and [recovery]: checklist boxes 7 (off-site backups) and 8 (proven recovery)."""

from __future__ import annotations

from pydantic import Field

from garrison.config.base import StrictModel


class BackupConfig(StrictModel):
    """[backup] (restic)"""

    repository: str | None = Field(
        None, description="restic repository, e.g. sftp:backup@host:/srv/restic or s3:..."
    )
    password_file: str | None = Field(None, description="restic password file (never inline)")
    env_file: str | None = Field(
        None, description="KEY=VALUE file with the repository's credentials (AWS_*, B2_*...)"
    )
    max_age_hours: int = Field(26, ge=1, le=24 * 31, description="newest snapshot must be younger")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="restic's time limit")


class RecoveryConfig(StrictModel):
    """[recovery]"""

    drill_command: list[str] = Field(
        default_factory=list,
        description="argv that redeploys from the golden image into a scratch host (a drill)",
    )
    target_minutes: float = Field(5.0, gt=0, description="box 8: redeploy must take less")
    drill_max_age_days: int = Field(
        92, ge=1, le=3650, description="a recovery drill older than this no longer counts"
    )
