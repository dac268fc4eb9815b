"""`garrison baseline`, `garrison verify`, `garrison keygen`, `garrison deploy`: file integrity."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from garrison.cli.common import (
    config_option,
    emit,
    format_option,
    get_config,
    output_option,
    parse_fail_on,
    stderr_console,
    use_color,
    warn,
)
from garrison.errors import EXIT_FINDINGS, EXIT_OK, UsageError

ProgressCallback = Callable[[int, int], None]


@contextmanager
def _progress(label: str, total: int | None = None) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr when it is a terminal; otherwise nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(
        *columns,
        TextColumn("{task.fields[size]}"),
        TimeElapsedColumn(),
        console=stderr_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total, size="")

        def update(files: int, nbytes: int) -> None:
            bar.update(task, completed=files, size=f"{nbytes / 1e9:.2f} GB hashed")

        yield update


BASELINE_EPILOG = """\b
Examples:
  garrison keygen /root/garrison-baseline.key      # once; pin the printed public key
  garrison baseline --sign-with /root/garrison-baseline.key
  garrison baseline --export-digest digest.txt     # sign off the box instead:
  garrison baseline sign-digest digest.txt --key KEY -o baseline.sig   (on the workstation)
  garrison baseline import-signature baseline.sig  # back on the box
  garrison baseline show                           # what the current baseline covers

\b
The manifest goes to [integrity].manifest (default <state_dir>/baseline.gz), with the
signature beside it (.sig). It is written aside and renamed only when complete.
"""


@click.group("baseline", invoke_without_command=True, epilog=BASELINE_EPILOG)
@config_option
@click.option(
    "--sign-with",
    metavar="KEYFILE",
    type=click.Path(dir_okay=False),
    help="ed25519 private key (PEM or OpenSSH) to sign the manifest with.",
)
@click.option(
    "--export-digest",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Also write the statement to sign off the box to FILE.",
)
@click.option(
    "--root",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    default="/",
    help="Baseline the system mounted at DIR.",
)
@format_option(("table", "json"))
@click.pass_context
def baseline_command(
    ctx: click.Context, sign_with: str | None, export_digest: str | None, root: str, fmt: str
) -> None:
    """Record every protected file (hash, mode, owner, caps...) in a signed manifest."""
    if ctx.invoked_subcommand is not None:
        return
    from garrison.integrity.baseline import create_baseline
    from garrison.integrity.signing import statement

    config = get_config(ctx)
    with _progress("baseline") as progress:
        result = create_baseline(
            config,
            sign_with=Path(sign_with) if sign_with else None,
            progress=progress,
            root=Path(root),
        )
    summary = result.summary
    if export_digest:
        _write_file(Path(export_digest), statement(summary))
    for problem in result.unreadable[:20]:
        warn(f"unreadable (recorded without a hash): {problem}")
    if len(result.unreadable) > 20:
        warn(f"... and {len(result.unreadable) - 20} more unreadable (see --format json)")
    if result.unreadable and os.geteuid() != 0:
        warn("not running as root: files only root can read are recorded without a hash")
    if result.vanished:
        warn(f"{len(result.vanished)} entries vanished during the scan (not recorded)")
    if summary.header.missing_paths:
        warn("not present, not covered: " + ", ".join(summary.header.missing_paths))
    data = {
        "manifest": str(summary.path),
        "records": summary.records,
        "sha256": summary.sha256,
        "signed": result.signed,
        "signature": str(result.signature) if result.signature else None,
        "paths": list(summary.header.paths),
        "unreadable": list(result.unreadable),
        "vanished": list(result.vanished),
    }
    if fmt == "json":
        emit(json.dumps(data, indent=2) + "\n", None)
        return
    lines = [f"baseline: {summary.records} entries -> {summary.path}", f"sha256: {summary.sha256}"]
    if result.signed:
        lines.append(f"signed: {result.signature}")
    else:
        lines.append(
            "NOT SIGNED: `garrison verify` refuses it until signed "
            "(--sign-with KEY, or --export-digest + import-signature)"
        )
    if export_digest:
        lines.append(f"statement to sign: {export_digest}")
    emit("\n".join(lines) + "\n", None)


def _write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror})") from None


@baseline_command.command("import-signature")
@config_option
@click.argument("signature", type=click.Path(exists=True, dir_okay=False))
@click.option("--manifest", metavar="FILE", type=click.Path(dir_okay=False), help="Manifest.")
@click.pass_context
def import_signature_command(ctx: click.Context, signature: str, manifest: str | None) -> None:
    """Attach a detached signature (made off the box) to the baseline, after checking it.

    SIGNATURE is a garrison .sig file, base64 text, or the 64 raw bytes that
    `openssl pkeyutl -sign -rawin -inkey KEY -in digest.txt` writes.
    """
    from garrison.integrity.baseline import import_signature

    config = get_config(ctx)
    target = import_signature(config, Path(signature), Path(manifest) if manifest else None)
    emit(f"signature verified against the pinned key and attached: {target}\n", None)


@baseline_command.command("sign-digest")
@click.argument("digest", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="ed25519 private key (PEM or OpenSSH).",
)
@click.option("--output", "-o", metavar="FILE", required=True, type=click.Path(dir_okay=False))
def sign_digest_command(digest: str, key_file: str, output: str) -> None:
    """Sign a statement written by `--export-digest` (run this where the key lives)."""
    from garrison.integrity.signing import sign_statement_file

    document = sign_statement_file(Path(digest), Path(key_file))
    _write_file(Path(output), (json.dumps(document, indent=1) + "\n").encode())
    emit(f"signed with {document['key']}: {output}\n", None)


@baseline_command.command("show")
@config_option
@click.option("--manifest", metavar="FILE", type=click.Path(dir_okay=False), help="Manifest.")
@format_option(("table", "json"))
@click.pass_context
def show_command(ctx: click.Context, manifest: str | None, fmt: str) -> None:
    """Show what the baseline covers, when it was made, and whether its signature verifies."""
    from garrison.integrity.baseline import describe_baseline

    info = describe_baseline(get_config(ctx), Path(manifest) if manifest else None)
    summary, header = info.summary, info.summary.header
    trust = info.trust if info.trusted else f"NOT TRUSTED: {info.trust}"
    data = {
        "manifest": str(summary.path),
        "records": summary.records,
        "sha256": summary.sha256,
        "trusted": info.trusted,
        "trust": trust,
        "header": {
            "hostname": header.hostname,
            "machine_id": header.machine_id,
            "created": header.created,
            "algorithm": header.algorithm,
            "paths": list(header.paths),
            "missing_paths": list(header.missing_paths),
            "excludes": list(header.excludes),
        },
    }
    if fmt == "json":
        emit(json.dumps(data, indent=2) + "\n", None)
        return
    lines = [
        f"manifest: {summary.path} ({summary.records} entries, {header.algorithm})",
        f"made: {header.created} on {header.hostname}",
        f"paths: {' '.join(header.paths)}",
        f"trust: {trust}",
    ]
    emit("\n".join(lines) + "\n", None)


KEYGEN_EPILOG = """\b
Examples:
  garrison keygen /root/garrison-baseline.key
  garrison keygen ~/keys/garrison.key   # on a workstation, for off-box signing

\b
Writes KEYFILE (PEM, mode 0600, unencrypted: keep it off the box or on a token) and
KEYFILE.pub, and prints the public key to pin as [integrity].public_key.
"""


@click.command("keygen", epilog=KEYGEN_EPILOG)
@click.argument("keyfile", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing key.")
def keygen_command(keyfile: str, force: bool) -> None:
    """Create an ed25519 key pair for signing baselines and deploy manifests."""
    from garrison.integrity.signing import generate_keypair

    pair = generate_keypair(Path(keyfile), overwrite=force)
    emit(
        f"private key: {pair.private_path} (keep it secret; ideally off this host)\n"
        f"public key:  {pair.public_path} ({pair.fingerprint})\n\n"
        f'pin it in garrison.toml:\n[integrity]\npublic_key = "{pair.public_line}"\n',
        None,
    )


baseline_command.add_command(keygen_command)

VERIFY_EPILOG = """\b
Examples:
  garrison verify                     # fast: rehash only files whose metadata changed
  garrison verify --full              # rehash everything
  garrison verify -f json -o drift.json
  garrison verify --fail-on critical  # exit 1 only for new setuid bits and the like
  garrison verify --full --root /mnt/suspect --manifest /backup/baseline.gz
                                      # a breached VPS's disk, from a rescue system

\b
Exit codes: 0 no drift at or above --fail-on, 1 drift at or above it,
2 baseline missing, unsigned, tampered or from another host.
"""


@click.command("verify", epilog=VERIFY_EPILOG)
@config_option
@click.option("--full", is_flag=True, help="Rehash every file instead of trusting metadata.")
@click.option(
    "--fail-on",
    metavar="SEVERITY",
    default="medium",
    show_default=True,
    help="Lowest severity of a change that makes the exit code 1.",
)
@click.option("--manifest", metavar="FILE", type=click.Path(dir_okay=False), help="Manifest.")
@click.option(
    "--root",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    default="/",
    help="Verify the system mounted at DIR (a suspect disk, from a rescue system); "
    "not recorded as this host's last verify.",
)
@format_option(("table", "json"))
@output_option
@click.pass_context
def verify_command(
    ctx: click.Context,
    full: bool,
    fail_on: str,
    manifest: str | None,
    root: str,
    fmt: str,
    output: str | None,
) -> None:
    """Compare the protected files with the signed baseline and report the drift."""
    from garrison.integrity.render import render_drift
    from garrison.integrity.verify import report_to_json, verify_baseline

    threshold = parse_fail_on(fail_on)
    config = get_config(ctx)
    with _progress("verify") as progress:
        report = verify_baseline(
            config,
            full=full,
            progress=progress,
            manifest=Path(manifest) if manifest else None,
            root=Path(root),
            record_result=Path(root) == Path("/"),
        )
    if fmt == "json":
        emit(report_to_json(report), output)
    else:
        emit(render_drift(report, color=use_color(output)), output)
    ctx.exit(EXIT_FINDINGS if report.at_or_above(threshold) else EXIT_OK)


COMMANDS = [baseline_command, verify_command, keygen_command]
