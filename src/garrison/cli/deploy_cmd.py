"""`garrison deploy`: refuse unsigned code, record signed manifests of deployed trees."""

from __future__ import annotations

import json
from pathlib import Path

import click

from garrison.cli.common import (
    config_option,
    emit,
    format_option,
    get_config,
    parse_fail_on,
    use_color,
)
from garrison.errors import EXIT_FINDINGS, EXIT_OK

DEPLOY_EPILOG = """\b
Examples:
  garrison deploy verify /opt/trading/momentum --sign-with /root/garrison.key
  garrison deploy verify --strategy momentum       # PATH defaults to its code_dir
  garrison deploy status                           # drift of every deployed tree
  garrison deploy hook install /srv/git/momentum.git

\b
Allowed signers come from [integrity].allowed_signers (ssh allowed_signers file)
and/or [integrity].gnupg_home (a GnuPG home holding only the signers' keys).
"""


@click.group("deploy", epilog=DEPLOY_EPILOG)
def deploy_group() -> None:
    """Refuse unsigned code: verify deploys, watch deployed trees, guard pushes."""


@deploy_group.command("verify", epilog=DEPLOY_EPILOG)
@config_option
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option("--strategy", metavar="NAME", help="[[strategies]] name (default: PATH's name).")
@click.option(
    "--sign-with",
    metavar="KEYFILE",
    type=click.Path(dir_okay=False),
    help="ed25519 key that signs the deploy manifest (default [integrity].signing_key).",
)
@click.option("--since", metavar="REV", help="Check commits after REV (not the last deploy).")
@format_option(("table", "json"))
@click.pass_context
def deploy_verify_command(
    ctx: click.Context,
    path: str | None,
    strategy: str | None,
    sign_with: str | None,
    since: str | None,
    fmt: str,
) -> None:
    """Check HEAD and every commit since the last verified deploy are signed, the tree is
    clean, and record a signed manifest of the deployed tree."""
    from garrison.integrity.deploy import resolve_target, verify_deploy

    config = get_config(ctx)
    name, tree = resolve_target(config, path, strategy)
    result = verify_deploy(
        config, tree, name, sign_with=Path(sign_with) if sign_with else None, since=since
    )
    deploy = result.deploy
    if fmt == "json":
        data = {
            "strategy": deploy.strategy,
            "tree": deploy.tree,
            "head": deploy.head,
            "manifest": str(deploy.manifest),
            "first_deploy": result.first_deploy,
            "commits": [
                {"commit": c.commit, "status": c.status, "signer": c.signer, "key": c.key}
                for c in result.commits
            ],
        }
        emit(json.dumps(data, indent=2) + "\n", None)
        return
    scope = "HEAD (first deploy)" if result.first_deploy else f"{len(result.commits)} new commits"
    signers = ", ".join(deploy.signers) or "-"
    emit(
        f"deploy {deploy.strategy}: {scope} signed by allowed signers ({signers}); "
        f"tree clean at {deploy.head[:12]}\nsigned manifest: {deploy.manifest}\n",
        None,
    )


@deploy_group.command("status")
@config_option
@click.option("--strategy", metavar="NAME", help="Only this deploy.")
@click.option("--fail-on", metavar="SEVERITY", default="low", show_default=True)
@format_option(("table", "json"))
@click.pass_context
def deploy_status_command(ctx: click.Context, strategy: str | None, fail_on: str, fmt: str) -> None:
    """Report how each deployed tree drifted from its signed manifest."""
    from garrison.integrity.deploy import deploy_status
    from garrison.integrity.render import deploy_status_json, render_deploy_status

    threshold = parse_fail_on(fail_on)
    statuses = deploy_status(get_config(ctx), strategy)
    if fmt == "json":
        emit(deploy_status_json(statuses), None)
    else:
        emit(render_deploy_status(statuses, color=use_color(None)), None)
    failing = any(s.needs_attention(threshold) for s in statuses)
    ctx.exit(EXIT_FINDINGS if failing else EXIT_OK)


@deploy_group.group("hook")
def hook_group() -> None:
    """Server-side git hooks."""


@hook_group.command("install")
@config_option
@click.argument("bare_repo", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing pre-receive hook.")
@click.pass_context
def hook_install_command(ctx: click.Context, bare_repo: str, force: bool) -> None:
    """Install a pre-receive hook in BARE_REPO that rejects pushes of unsigned commits."""
    from garrison.integrity.hook import install_hook

    hook = install_hook(get_config(ctx), Path(bare_repo), force=force)
    emit(
        f"installed {hook}: pushes with commits not signed by an allowed signer are refused\n", None
    )


COMMANDS = [deploy_group]
