"""Dump a process's memory: every readable mapping of /proc/PID/maps, read from /proc/PID/mem.

The process should be frozen first (the playbook freezes before it collects), so the image is
consistent. [vvar]/[vvar_vclock]/[vsyscall] are skipped (reading them faults or is meaningless);
regions the kernel refuses (EIO, EFAULT) are listed as skipped. The output is the raw bytes of
each region back to back plus a JSON map (start, end, perms, path, offset in the dump).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from garrison.errors import ResponseError

_SKIP = {"[vvar]", "[vvar_vclock]", "[vsyscall]"}
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class MemoryDump:
    pid: int
    dump: Path
    index: Path
    regions: int
    bytes: int
    skipped: int
    truncated: bool


def dump_memory(pid: int, out_dir: Path, label: str, limit_bytes: int) -> MemoryDump:
    """Write <label>-<pid>.mem and <label>-<pid>.maps.json under out_dir."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
        mem_fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    except FileNotFoundError:
        raise ResponseError(f"pid {pid}: gone before its memory could be read") from None
    except PermissionError:
        raise ResponseError(f"pid {pid}: no permission to read its memory (root?)") from None
    dump_path = out_dir / f"{label}-{pid}.mem"
    index_path = out_dir / f"{label}-{pid}.maps.json"
    regions: list[dict[str, object]] = []
    written = skipped = 0
    truncated = False
    try:
        with dump_path.open("wb") as out:
            for line in maps.splitlines():
                fields = line.split(maxsplit=5)
                if len(fields) < 5:
                    continue
                start_s, end_s = fields[0].split("-")
                perms, path = fields[1], (fields[5] if len(fields) > 5 else "")
                if not perms.startswith("r") or path in _SKIP:
                    continue
                start, end = int(start_s, 16), int(end_s, 16)
                if written + (end - start) > limit_bytes:
                    truncated = True
                    break
                offset = written
                got = _copy_region(mem_fd, out, start, end)
                if got is None:
                    skipped += 1
                    continue
                written += got
                regions.append(
                    {
                        "start": hex(start),
                        "end": hex(end),
                        "perms": perms,
                        "path": path,
                        "offset": offset,
                        "length": got,
                    }
                )
    finally:
        os.close(mem_fd)
    index_path.write_text(
        json.dumps(
            {"pid": pid, "regions": regions, "skipped": skipped, "truncated": truncated}, indent=1
        )
        + "\n"
    )
    return MemoryDump(pid, dump_path, index_path, len(regions), written, skipped, truncated)


def _copy_region(fd: int, out: object, start: int, end: int) -> int | None:
    """Copy [start, end) to out; None when the kernel refuses the first read of the region."""
    copied = 0
    pos = start
    while pos < end:
        try:
            chunk = os.pread(fd, min(_CHUNK, end - pos), pos)
        except OSError:
            return None if copied == 0 else copied
        if not chunk:
            break
        out.write(chunk)  # type: ignore[attr-defined]
        copied += len(chunk)
        pos += len(chunk)
    return copied
