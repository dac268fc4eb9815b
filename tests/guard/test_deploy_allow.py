"""The `deploy` allow-list with the integrity area's real `garrison deploy verify`: a write in
a deployed tree that matches the signed deploy manifest raises nothing; other content alerts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import GARRISON, make_run

pytestmark = [
    requires_guard_env,
    pytest.mark.root,
    pytest.mark.skipif(
        shutil.which("git") is None or shutil.which("ssh-keygen") is None,
        reason="needs git and ssh-keygen",
    ),
]


def test_rewrite_matching_the_deploy_manifest_is_allowed(tmp_path: Path) -> None:
    manifest_key = tmp_path / "manifest.key"
    subprocess.run([GARRISON, "keygen", str(manifest_key)], check=True, capture_output=True)
    git_key = tmp_path / "git_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(git_key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'dev@example.org namespaces="git" {Path(f"{git_key}.pub").read_text()}')
    run = make_run(tmp_path)
    bot = run.mnt / "opt/trading/bot"
    public = Path(f"{manifest_key}.pub").read_text().strip()
    with run.config.open("a") as config:
        config.write(
            f'\n[integrity]\npaths = ["{run.mnt}/usr/bin"]\npublic_key = "{public}"\n'
            f'allowed_signers = "{signers}"\n'
        )
    git = f"HOME={tmp_path} GIT_CONFIG_NOSYSTEM=1 git -C {bot}"
    setup = (
        f"{git} init -q && {git} config user.email dev@example.org && {git} config user.name dev"
        f" && {git} config gpg.format ssh && {git} config user.signingkey {git_key}"
        f" && echo 'print(\"trade\")' > {bot}/bot.py && {git} add -A"
        f" && {git} commit -q -S -m first"
        f" && {GARRISON} -c {run.config} deploy verify {bot} --sign-with {manifest_key}"
        " > /dev/null"
    )
    run.start(setup=setup)
    try:
        # Same content written again (e.g. a checkout of the verified commit): allowed.
        run.sh(f"cp {bot}/bot.py {run.mnt}/scratch/copy && cp {run.mnt}/scratch/copy {bot}/bot.py")
        run.settle()
        assert run.rules_seen() == set()
        # Anything else in the deployed tree is a protected-file change.
        run.sh(f"echo 'steal()' >> {bot}/bot.py")
        alert = run.wait_rule("GRD-FILE-001")
        assert alert.events[0]["path"] == f"{bot}/bot.py"
    finally:
        run.stop()
    metrics = (run.base / "guard.prom").read_text()
    assert 'garrison_guard_suppressed_total{reason="deploy"}' in metrics
