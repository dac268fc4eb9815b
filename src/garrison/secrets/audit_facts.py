"""Fact collectors for the secrets checks: swap devices, tmpfs mounts, the bounded disk scan.

Collectors are `(Host, Config) -> T` and read only through the Host, so `--root` works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from garrison.config.schema import Config
from garrison.host.host import Host
from garrison.secrets.scanner.scan import ScanResult, scan_paths

#: the audit scans these (plus each strategy's code_dir) within AUDIT_SCAN_BUDGET_S
AUDIT_SCAN_PATHS = ("/etc/systemd/system", "/etc/garrison", "/opt", "/srv", "/root")
AUDIT_SCAN_BUDGET_S = 0.4


@dataclass(frozen=True)
class SwapArea:
    """One swap area and whether its contents are encrypted at rest."""

    name: str
    kind: str  # "partition", "file", "zram", "dm-crypt", "unknown"
    encrypted: bool
    source: str  # where it was seen (/proc/swaps or /etc/fstab:LINE)
    reason: str


@dataclass(frozen=True)
class TmpfsMount:
    target: str
    options: tuple[str, ...]

    @property
    def noswap(self) -> bool:
        return "noswap" in self.options


def _crypttab_names(host: Host) -> set[str]:
    text = host.read_text_or_none("/etc/crypttab") or ""
    return {ln.split()[0] for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}


def _dm_is_crypt(host: Host, major: int, minor: int) -> bool:
    uuid = host.read_text_or_none(f"/sys/dev/block/{major}:{minor}/dm/uuid") or ""
    return uuid.startswith("CRYPT-")


def _classify(host: Host, name: str, crypt_names: set[str]) -> tuple[str, bool, str]:
    base = os.path.basename(name)
    if base.startswith("zram"):
        return "zram", True, "compressed RAM, never written to disk"
    if name.startswith("/dev/mapper/"):
        if base in crypt_names:
            return "dm-crypt", True, f"{base} is listed in /etc/crypttab"
        return "dm", False, f"{base} is not listed in /etc/crypttab"
    if host.live:
        try:
            st = os.stat(name)
        except OSError:
            return "unknown", False, "cannot stat"
        if name.startswith("/dev/"):
            dev = st.st_rdev
            if _dm_is_crypt(host, os.major(dev), os.minor(dev)):
                return "dm-crypt", True, "device-mapper crypt target"
            return "partition", False, "plain block device"
        if _dm_is_crypt(host, os.major(st.st_dev), os.minor(st.st_dev)):
            return "file", True, "swap file on a dm-crypt filesystem"
        return "file", False, "swap file on an unencrypted filesystem"
    return ("partition" if name.startswith("/dev/") else "file"), False, "not under dm-crypt"


def swap_areas(host: Host, config: Config) -> list[SwapArea]:
    """Active swap (live: /proc/swaps) or configured swap (image: /etc/fstab)."""
    del config
    crypt_names = _crypttab_names(host)
    areas = []
    if host.live:
        text = host.read_text_or_none("/proc/swaps") or ""
        for line in text.splitlines()[1:]:
            fields = line.split()
            if fields:
                kind, encrypted, reason = _classify(host, fields[0], crypt_names)
                areas.append(SwapArea(fields[0], kind, encrypted, "/proc/swaps", reason))
        return areas
    text = host.read_text_or_none("/etc/fstab") or ""
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "swap" and not line.lstrip().startswith("#"):
            kind, encrypted, reason = _classify(host, fields[0], crypt_names)
            areas.append(SwapArea(fields[0], kind, encrypted, f"/etc/fstab:{number}", reason))
    return areas


def tmpfs_mounts(host: Host, config: Config) -> list[TmpfsMount]:
    """tmpfs mounts of the running host (/proc/self/mounts)."""
    del config
    text = host.read_text_or_none("/proc/self/mounts") or ""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "tmpfs":
            out.append(TmpfsMount(fields[1], tuple(fields[3].split(","))))
    return out


def disk_secrets(host: Host, config: Config) -> ScanResult:
    """The bounded audit scan: service units, /opt, /srv, root's files, strategies' code."""
    paths = list(AUDIT_SCAN_PATHS)
    paths += [s.code_dir for s in config.strategies if s.code_dir]
    homes = [a.home for a in host.accounts() if a.uid >= 1000 and a.home.startswith("/home/")]
    paths += sorted(set(homes))
    return scan_paths(config, paths, root=Path(host.root), budget_s=AUDIT_SCAN_BUDGET_S)


RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


@dataclass(frozen=True)
class UnlockMaterial:
    """A file that unlocks the vault (age identity, Vault token, AppRole secret_id...)."""

    what: str
    path: str
    exists: bool
    fstype: str  # of the filesystem holding it ("" when unknown)
    same_fs_as_state: bool  # on the same filesystem as <state_dir> (the data disk)
    protected: bool  # response-wrapped (single use) or wrapped by a passphrase

    @property
    def off_data_disk(self) -> bool:
        return self.fstype in RAM_FILESYSTEMS or not self.same_fs_as_state


def _fstype_of(host: Host, path: str) -> str:
    text = host.read_text_or_none("/proc/self/mounts") or ""
    best, fstype = "", ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = fields[1].replace("\\040", " ")
        prefix = mount.rstrip("/") + "/"
        if (path == mount or path.startswith(prefix)) and len(mount) >= len(best):
            best, fstype = mount, fields[2]
    return fstype


def _device(path: str) -> int | None:
    probe = Path(path)
    while True:
        try:
            return probe.stat().st_dev
        except OSError:
            if probe.parent == probe:
                return None
            probe = probe.parent


def unlock_materials(host: Host, config: Config) -> list[UnlockMaterial]:
    """The unlock files the configured backend uses (live host)."""
    cfg = config.secrets
    candidates: list[tuple[str, str, bool]] = []
    if cfg.backend == "age" and cfg.age.identity_file:
        candidates.append(("age identity", os.path.expandvars(cfg.age.identity_file), False))
    elif cfg.backend in ("vault", "openbao"):
        if cfg.vault.auth == "token" and cfg.vault.token_file:
            candidates.append(
                (f"{cfg.backend} token", cfg.vault.token_file, cfg.vault.token_wrapped)
            )
        if cfg.vault.auth == "approle" and cfg.vault.secret_id_file:
            candidates.append(
                ("AppRole secret_id", cfg.vault.secret_id_file, cfg.vault.secret_id_wrapped)
            )
    elif cfg.backend == "doppler" and cfg.doppler.token_file:
        candidates.append(("Doppler token", cfg.doppler.token_file, False))
    state_dev = _device(config.paths.state_dir)
    out = []
    for what, path, protected in candidates:
        real = os.path.realpath(path)
        out.append(
            UnlockMaterial(
                what,
                path,
                os.path.exists(real),
                _fstype_of(host, real),
                state_dev is not None and _device(real) == state_dev,
                protected,
            )
        )
    return out
