"""[guard]: what the real-time guard watches, which rules it loads and where alerts go."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from garrison.config.base import StrictModel

DEFAULT_PROTECTED = ["/usr/bin", "/usr/sbin", "/usr/lib", "/etc", "/opt/trading"]
DEFAULT_GENERATED = [
    "/etc/ld.so.cache",
    "/etc/alternatives/*",
    "**/__pycache__/*",
    "/usr/lib/python3/dist-packages/**.pyc",
    "/etc/mtab",
    "/etc/adjtime",
    "/etc/systemd/system/*.wants/*",
    "/etc/systemd/system/*.requires/*",
    "/etc/rc?.d/*",
    "/etc/ssl/certs/**",
    "/usr/lib/**/__pycache__/*",
]


class WatchPaths(StrictModel):
    """[guard.watch]: where persistence and privilege changes are planted (globs allowed).

    Each list is also a rule macro: {ssh_keys}, {cron}, {systemd}, {shell_profiles},
    {privilege_files}.
    """

    ssh_keys: list[str] = Field(
        default_factory=lambda: ["/root/.ssh/authorized_keys*", "/home/*/.ssh/authorized_keys*"]
    )
    cron: list[str] = Field(
        default_factory=lambda: ["/etc/crontab", "/etc/cron.*/**", "/var/spool/cron/**"]
    )
    systemd: list[str] = Field(
        default_factory=lambda: [
            "/etc/systemd/system/**",
            "/usr/lib/systemd/system/**",
            "/root/.config/systemd/**",
            "/home/*/.config/systemd/**",
        ]
    )
    shell_profiles: list[str] = Field(
        default_factory=lambda: [
            "/etc/profile",
            "/etc/profile.d/**",
            "/etc/bash.bashrc",
            "/root/.bashrc",
            "/root/.profile",
            "/home/*/.bashrc",
            "/home/*/.profile",
            "/home/*/.bash_profile",
        ]
    )
    privilege_files: list[str] = Field(
        default_factory=lambda: [
            "/etc/sudoers",
            "/etc/sudoers.d/**",
            "/etc/pam.d/**",
            "/etc/ld.so.preload",
            "/etc/security/**",
        ]
    )
    venvs: list[str] = Field(
        default_factory=list, description="extra Python environments (strategies' venv added)"
    )


class PackageManagerAllow(StrictModel):
    """[guard.package_manager]: when a package manager's writes raise no alert."""

    writers: list[str] = Field(
        default_factory=lambda: ["/usr/bin/dpkg"],
        description="executables whose writes are verified against the dpkg database",
    )
    descendants_of: list[str] = Field(
        default_factory=lambda: ["dpkg"],
        description="process names whose children (maintainer scripts, triggers) are verified too",
    )
    parents: list[str] = Field(
        default_factory=lambda: [
            "apt",
            "apt-get",
            "aptitude",
            "unattended-upgr",
            "unattended-upgrade",
        ],
        description="process names one of which must be an ancestor of the writer ([] = any)",
    )
    admindir: str = Field("/var/lib/dpkg", description="dpkg database holding *.md5sums")
    root: str = Field("/", description="the root dpkg installs into (tests: a temp root)")
    generated: list[str] = Field(
        default_factory=lambda: list(DEFAULT_GENERATED),
        description="globs of files package scripts regenerate (not in any md5sums)",
    )
    settle_s: float = Field(
        1.0,
        ge=0,
        le=600,
        description="wait before verifying a write whose writer is unknown or already gone",
    )
    max_wait_s: float = Field(
        900.0,
        gt=0,
        le=86400,
        description="verify a package-manager write after this long even if dpkg still runs",
    )


class GuardConfig(StrictModel):
    """[guard]"""

    protected_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROTECTED),
        description="trees where any change alerts (strategies' code_dir are added)",
    )
    watch: WatchPaths = Field(default_factory=WatchPaths)
    data_globs: list[str] = Field(
        default_factory=lambda: [
            "**/*.log",
            "**/*.log.[0-9]*",
            "**/logs",
            "**/logs/**",
            "**/*.sqlite",
            "**/*.sqlite-*",
            "**/*.db",
            "**/*.db-*",
            "**/__pycache__/**",
            "**/user_data/data/**",
        ],
        description="a bot's own data inside its code_dir (logs, databases): writes there are "
        "not alerts (rule macro {data_paths})",
    )
    rule_files: list[str] = Field(
        default_factory=list,
        description="extra rule files (TOML) loaded after the shipped default rules",
    )
    default_rules: bool = Field(True, description="load the shipped guard/rules/default.toml")
    dedup_window_s: float = Field(60.0, ge=0, le=86400)
    alert_db: str | None = Field(None, description="SQLite alert store (default state_dir)")
    metrics_listen: str = Field("127.0.0.1:9108", description="HOST:PORT or 'off'")
    metrics_textfile: str | None = Field(None, description="Prometheus textfile to rewrite")
    status_file: str | None = Field(None, description="status JSON (default run_dir)")
    responders: list[str] = Field(
        default_factory=lambda: ["log"], description="log, exec, respond (in this order)"
    )
    exec_command: list[str] = Field(
        default_factory=list, description="argv for the exec responder (alert JSON on stdin)"
    )
    exec_timeout_s: float = Field(10.0, gt=0, le=600)
    allow_exes: list[str] = Field(
        default_factory=list, description="writer executables never alerted on (globs)"
    )
    allow_paths: list[str] = Field(
        default_factory=list, description="paths never alerted on (globs)"
    )
    package_manager: PackageManagerAllow = Field(default_factory=PackageManagerAllow)
    file_source: Literal["auto", "fanotify", "inotify", "off"] = "auto"
    nflog: bool = Field(True, description="read the firewall's NFLOG group")
    audit: Literal["auto", "on", "off"] = Field(
        "auto", description="install keyed audit rules and read the audit netlink"
    )
    audit_paths: list[str] = Field(
        default_factory=lambda: ["/**"],
        description="audit events on paths outside these globs are ignored",
    )
    auth_source: Literal["auto", "journal", "file", "off"] = Field(
        "auto", description="failed sudo/su from the journal (auto: when journald runs) or auth_log"
    )
    auth_log: str = Field("/var/log/auth.log", description="log tailed for failed sudo/su")
    verify_on_start: bool = Field(True, description="verify the signed baseline on start")

    @field_validator("metrics_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        if value == "off":
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not HOST:PORT or 'off'")
        return value

    @field_validator("responders")
    @classmethod
    def _responders(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in ("log", "exec", "respond"):
                raise ValueError(f"unknown responder {name!r} (choose from log, exec, respond)")
        return value
