"""A real `apt-get install` raises no alert; changing the installed file afterwards does.

The whole system is overlaid (lower = /, upper = a tmpfs) inside a private mount namespace and
apt runs chrooted into it, so nothing on this machine changes. overlayfs cannot give fanotify
file handles, so this also exercises the inotify fallback (no writer pid: every write is
verified against the dpkg database instead). Needs the Debian mirror; skipped when apt cannot
download the package.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.guard.conftest import requires_guard_env

pytestmark = [
    requires_guard_env,
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get"),
]

GARRISON = str(Path(sys.executable).with_name("garrison"))

SCRIPT = """\
set -e
D={mnt}
mount -t tmpfs garrison-guard-apt $D
mkdir -p $D/up $D/work $D/root
mount -t overlay overlay -o lowerdir=/,upperdir=$D/up,workdir=$D/work $D/root
mount --rbind /proc $D/root/proc
mount --rbind /dev $D/root/dev
mount --rbind /sys $D/root/sys
mount -t tmpfs garrison-guard-run $D/root/run
mkdir -p $D/root/tmp/g
printf '%s' '{config}' > $D/root/tmp/g/g.toml
chroot $D/root {garrison} -c /tmp/g/g.toml guard --for 300 > /dev/null 2> $D/root/tmp/g/log &
guard=$!
for i in $(seq 100); do [ -e $D/root/tmp/g/run/guard-status.json ] && break; sleep 0.2; done
if ! chroot $D/root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q tree' \
    > $D/apt.log 2>&1; then
  echo APT-FAILED; tail -5 $D/apt.log; kill $guard; exit 0
fi
sleep 2
echo AFTER-APT
chroot $D/root {garrison} -c /tmp/g/g.toml guard alerts -f json
chroot $D/root sh -c 'echo evil >> /usr/bin/tree'
sleep 2
echo AFTER-TAMPER
chroot $D/root {garrison} -c /tmp/g/g.toml guard alerts -f json
kill $guard
wait $guard || true
"""

CONFIG = textwrap.dedent(
    """\
    [paths]
    state_dir = "/tmp/g/state"
    run_dir = "/tmp/g/run"
    log_dir = "/tmp/g/log"
    [guard]
    metrics_listen = "off"
    audit = "off"
    nflog = false
    """
)


def test_apt_install_raises_nothing_and_tampering_alerts(tmp_path: Path) -> None:
    mnt = tmp_path / "ov"
    mnt.mkdir()
    script = SCRIPT.format(mnt=mnt, config=CONFIG, garrison=GARRISON)
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    if "APT-FAILED" in done.stdout:
        pytest.skip(f"apt-get could not install the package here: {done.stdout[-300:]}")
    assert "AFTER-TAMPER" in done.stdout, done.stdout + done.stderr
    after_apt, after_tamper = done.stdout.split("AFTER-APT", 1)[1].split("AFTER-TAMPER", 1)

    assert json.loads(after_apt) == []  # apt + dpkg + man-db trigger: nothing alerts
    alerts = json.loads(after_tamper)
    assert [a["rule_id"] for a in alerts] == ["GRD-FILE-001"]
    assert alerts[0]["events"][0]["path"] == "/usr/bin/tree"
