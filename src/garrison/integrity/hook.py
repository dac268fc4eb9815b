"""A pre-receive hook for a bare repository that rejects pushes containing unsigned commits.

The hook is a small POSIX shell script (the push side may not have garrison's venv); it asks git
itself for each new commit's signature status with the verification settings pinned, exactly as
`garrison deploy verify` does, and tells the pusher which commit was refused and why.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from garrison.config.schema import Config
from garrison.errors import IntegrityError
from garrison.integrity.gitsig import TrustSources

MARKER = "# installed by garrison deploy hook install"

HOOK_TEMPLATE = r"""#!/bin/sh
{marker}
# Rejects any push that brings a commit not signed by an allowed signer.
# SSH signers: {signers}
# GnuPG home:  {gnupg}
set -u
ALLOWED_SIGNERS={signers}
GNUPG_HOME={gnupg}
if [ -z "$GNUPG_HOME" ]; then GNUPG_HOME=$(mktemp -d); trap 'rm -rf "$GNUPG_HOME"' EXIT; fi
export GNUPGHOME="$GNUPG_HOME"
ZERO=0000000000000000000000000000000000000000
git_v() {{
  git -c gpg.program=gpg -c gpg.openpgp.program=gpg -c gpg.ssh.program=ssh-keygen \
      -c gpg.ssh.allowedSignersFile="${{ALLOWED_SIGNERS:-/dev/null}}" -c gpg.ssh.revocationFile= \
      -c gpg.minTrustLevel=undefined "$@"
}}
status=0
while read -r old new ref; do
  case "$new" in *[!0]*) ;; *) continue ;; esac   # branch deletion: nothing to verify
  if [ "$old" = "$ZERO" ] || ! git cat-file -e "$old^{{commit}}" 2>/dev/null; then
    range="$new --not --all"
  else
    range="$old..$new"
  fi
  for commit in $(git rev-list $range); do
    sig=$(git_v log -1 --format='%G?' "$commit")
    key=$(git_v log -1 --format='%GK' "$commit")
    ok=no
    case "$sig" in
      G) ok=yes ;;
      U) case "$key" in SHA256:*) ok=no ;; *) ok=yes ;; esac ;;
    esac
    if [ "$ok" != yes ]; then
      subject=$(git log -1 --format='%s' "$commit")
      case "$sig" in
        N) why="it is not signed" ;;
        U) why="it is signed by a key that is not an allowed signer ($key)" ;;
        E) why="its signer's key is not an allowed signer" ;;
        B) why="its signature is BAD (the commit was changed after signing)" ;;
        *) why="its signature cannot be trusted (git status $sig)" ;;
      esac
      short=$(git rev-parse --short=12 "$commit")
      echo "garrison: push to $ref rejected: commit $short ($subject): $why." >&2
      echo "garrison: sign your commits with an allowed key (git commit -S, or" >&2
      echo "garrison: git config commit.gpgsign true), then push again." >&2
      status=1
    fi
  done
done
exit $status
"""


def render_hook(trust: TrustSources) -> str:
    return HOOK_TEMPLATE.format(
        marker=MARKER,
        signers=shlex.quote(trust.allowed_signers or ""),
        gnupg=shlex.quote(trust.gnupg_home or ""),
    )


def install_hook(config: Config, bare_repo: Path, *, force: bool = False) -> Path:
    """Write hooks/pre-receive in a bare repository; refuse to replace someone else's hook."""
    trust = TrustSources.from_config(config)
    trust.check()
    for path in (trust.allowed_signers, trust.gnupg_home):
        if path and not os.path.isabs(path):
            raise IntegrityError(f"{path}: must be an absolute path (the hook runs elsewhere)")
    if not (bare_repo / "objects").is_dir() or not (bare_repo / "refs").is_dir():
        raise IntegrityError(f"{bare_repo}: not a bare git repository (no objects/ and refs/)")
    hook = bare_repo / "hooks" / "pre-receive"
    if hook.exists() and not force:
        try:
            mine = MARKER in hook.read_text(encoding="utf-8", errors="replace")
        except OSError:
            mine = False
        if not mine:
            raise IntegrityError(f"{hook}: a pre-receive hook exists already (use --force)")
    hook.parent.mkdir(exist_ok=True)
    tmp = hook.with_name(".pre-receive.garrison-tmp")
    try:
        tmp.write_text(render_hook(trust), encoding="utf-8")
        tmp.chmod(0o755)
        tmp.replace(hook)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise IntegrityError(f"{hook}: cannot write ({exc.strerror})") from None
    return hook
