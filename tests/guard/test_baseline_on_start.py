"""On start the guard verifies the signed baseline (garrison.integrity.verify.verify_baseline,
the integrity area's real code): a file changed while no guard ran raises an alert."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import GARRISON, make_run

pytestmark = [requires_guard_env, pytest.mark.root]


def test_change_made_while_the_guard_was_down_is_reported_on_start(tmp_path: Path) -> None:
    key = tmp_path / "baseline.key"
    subprocess.run([GARRISON, "keygen", str(key)], check=True, capture_output=True)
    public = Path(f"{key}.pub").read_text().strip()
    run = make_run(tmp_path)
    tool = run.mnt / "usr/bin/tool"
    with run.config.open("a") as config:
        config.write(f'\n[integrity]\npaths = ["{run.mnt}/usr/bin"]\npublic_key = "{public}"\n')
    setup = (
        f"echo original > {tool} && "
        f"{GARRISON} -c {run.config} baseline --sign-with {key} > /dev/null && "
        f"echo 'changed while nobody watched' >> {tool}"
    )
    run.start(setup=setup)
    try:
        alert = run.wait_rule("GRD-FILE-001")
        run.settle()
        assert run.rules_seen() == {"GRD-FILE-001"}
        event = alert.events[0]
        assert event["source"] == "integrity"
        assert event["path"] == str(tool)
        status = (run.base / "run" / "guard-status.json").read_text()
        assert '"baseline": "ok"' in status
    finally:
        run.stop()
