"""Maps the memfd_secret garrison delivered, prints `ready PID SHA256`, and keeps the mapping
until stdin closes, so a test can try to read the pages from outside (/proc/PID/mem)."""

from __future__ import annotations

import hashlib
import mmap
import os
import sys

fd = int(os.environ["GARRISON_SECRETS_FD"])
size = int(os.environ["GARRISON_SECRETS_SIZE"])
view = mmap.mmap(fd, size, prot=mmap.PROT_READ)
os.close(fd)
digest = hashlib.sha256(view[:size]).hexdigest()
print(f"ready {os.getpid()} {digest}", flush=True)
sys.stdin.read()
view.close()
