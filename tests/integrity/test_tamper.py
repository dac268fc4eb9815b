"""A tampered, unsigned, foreign or mis-keyed manifest is refused with one clear line."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from garrison.config.loader import load_config
from garrison.errors import IntegrityError
from garrison.integrity.manifest import END_PREFIX
from garrison.integrity.signing import generate_keypair, load_private_key, statement
from garrison.integrity.verify import verify_baseline

from .conftest import write_config


@pytest.fixture
def signed(cli, tmp_path: Path, signing_key: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("a", "b", "c", "d"):
        (tree / name).write_text(f"{name}\n")
    config = write_config(tmp_path / "g.toml", tmp_path / "state", signing_key, paths=[str(tree)])
    result = cli("baseline", "-c", str(config), "--sign-with", str(signing_key))
    assert result.code == 0, result.err
    assert cli("verify", "-c", str(config)).code == 0
    return config, tmp_path / "state" / "baseline.gz"


def _lines(manifest: Path) -> list[str]:
    return gzip.decompress(manifest.read_bytes()).decode().splitlines(keepends=True)


def _write(manifest: Path, lines: list[str], *, fix_digest: bool = False) -> None:
    """Rewrite a manifest; with fix_digest, recompute its end line as a careful attacker would."""
    if fix_digest:
        body = [line for line in lines if not line.startswith(END_PREFIX)]
        digest = hashlib.sha256("".join(body).encode()).hexdigest()
        count = sum(1 for line in body if not line.startswith("#"))
        end = json.dumps({"records": count, "sha256": digest}, sort_keys=True)
        lines = [*body, f"{END_PREFIX}{end}\n"]
    manifest.write_bytes(gzip.compress("".join(lines).encode()))


def _refused(cli, config: Path, *needles: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("verify", "-c", str(config))
    assert result.code == 2, result.out
    line = result.err.strip()
    assert "\n" not in line and "Traceback" not in line
    for needle in needles:
        assert needle in line, line


def test_one_byte_flipped_in_the_file(cli, signed: tuple[Path, Path]) -> None:
    config, manifest = signed
    data = bytearray(manifest.read_bytes())
    data[len(data) // 2] ^= 0x01
    manifest.write_bytes(bytes(data))
    _refused(cli, config, str(manifest))


def test_one_byte_changed_in_a_record(cli, signed: tuple[Path, Path]) -> None:
    config, manifest = signed
    lines = _lines(manifest)
    lines[4] = lines[4].replace("\t644\t", "\t4755\t", 1)
    _write(manifest, lines)
    _refused(cli, config, "does not match its digest: tampered")


def test_one_byte_changed_with_digest_recomputed_fails_the_signature(
    cli, signed: tuple[Path, Path]
) -> None:
    config, manifest = signed
    lines = _lines(manifest)
    lines[4] = lines[4].replace("\t644\t", "\t4755\t", 1)
    _write(manifest, lines, fix_digest=True)
    _refused(cli, config, "signature is for another manifest")


def test_lines_reordered(cli, signed: tuple[Path, Path], signing_key: Path) -> None:
    config, manifest = signed
    original = _lines(manifest)
    lines = list(original)
    lines[4], lines[5] = lines[5], lines[4]
    _write(manifest, lines)
    _refused(cli, config, "does not match its digest: tampered")
    _write(manifest, lines, fix_digest=True)
    _refused(cli, config, "signature is for another manifest")
    # even signed by the right key (a garrison bug, say), a misordered manifest is refused
    _resign(manifest, signing_key)
    _refused(cli, config, "records out of order: tampered")
    full = cli("verify", "-c", str(config), "--full")
    assert full.code == 2 and "records out of order: tampered" in full.err


@pytest.mark.parametrize("cut", ["half", "end-line"])
def test_truncated(cli, signed: tuple[Path, Path], cut: str) -> None:
    config, manifest = signed
    if cut == "half":
        data = manifest.read_bytes()
        manifest.write_bytes(data[: len(data) // 2])
        _refused(cli, config, "truncated")
    else:
        _write(manifest, _lines(manifest)[:-1])
        _refused(cli, config, "truncated (no end line)")


def test_signature_swapped_from_another_manifest(
    cli, signed: tuple[Path, Path], tmp_path: Path, signing_key: Path
) -> None:
    config, manifest = signed
    other_tree = tmp_path / "other"
    other_tree.mkdir()
    (other_tree / "x").write_text("x\n")
    other = write_config(
        tmp_path / "o.toml", tmp_path / "ostate", signing_key, paths=[str(other_tree)]
    )
    assert cli("baseline", "-c", str(other), "--sign-with", str(signing_key)).code == 0
    other_sig = tmp_path / "ostate" / "baseline.gz.sig"
    Path(str(manifest) + ".sig").write_bytes(other_sig.read_bytes())
    _refused(cli, config, "signature is for another manifest")
    # the bare signature bytes (no sha256 hint) are refused by the ed25519 check itself
    raw = json.loads(other_sig.read_text())["signature"]
    Path(str(manifest) + ".sig").write_text(raw)
    _refused(cli, config, "signature does not verify against the pinned key")


def test_signature_removed(cli, signed: tuple[Path, Path]) -> None:
    config, manifest = signed
    Path(str(manifest) + ".sig").unlink()
    _refused(cli, config, "not signed")


def test_manifest_from_another_host(cli, signed: tuple[Path, Path], signing_key: Path) -> None:
    """Even correctly signed, a manifest made elsewhere is refused (machine-id/hostname)."""
    config, manifest = signed
    lines = _lines(manifest)
    header = json.loads(lines[1][2:])
    header["machine_id"] = "0" * 32
    header["hostname"] = "other-box"
    lines[1] = "# " + json.dumps(header, sort_keys=True, separators=(",", ":")) + "\n"
    _write(manifest, lines, fix_digest=True)
    _resign(manifest, signing_key)
    _refused(cli, config, "made on another host (other-box")


def test_manifest_of_another_format_version(
    cli, signed: tuple[Path, Path], signing_key: Path
) -> None:
    config, manifest = signed
    lines = _lines(manifest)
    header = json.loads(lines[1][2:])
    header["version"] = 2
    lines[1] = "# " + json.dumps(header, sort_keys=True, separators=(",", ":")) + "\n"
    _write(manifest, lines, fix_digest=True)
    _resign(manifest, signing_key)
    _refused(cli, config, "format version 2 is not supported")


def _resign(manifest: Path, key_path: Path) -> None:
    from garrison.integrity.manifest import load_manifest
    from garrison.integrity.signing import sign_summary, write_signature

    try:
        summary = load_manifest(manifest).summary
    except IntegrityError:  # unreadable header version: sign the raw digest line instead
        return
    write_signature(manifest, sign_summary(summary, load_private_key(key_path)))


def test_wrong_pinned_key(cli, signed: tuple[Path, Path], tmp_path: Path) -> None:
    config, _manifest = signed
    other = generate_keypair(tmp_path / "other.key")
    text = re.sub(r'public_key = ".*"', f'public_key = "{other.public_line}"', config.read_text())
    config.write_text(text)
    _refused(cli, config, "signature does not verify against the pinned key", other.fingerprint)


def test_missing_pinned_key(cli, signed: tuple[Path, Path]) -> None:
    config, _manifest = signed
    config.write_text(
        "\n".join(x for x in config.read_text().splitlines() if "public_key" not in x)
    )
    _refused(cli, config, "integrity.public_key: not set")
    bad = config.read_text().replace("[integrity]", '[integrity]\npublic_key = "/nonexistent.pub"')
    config.write_text(bad)
    _refused(cli, config, "/nonexistent.pub: no such key file")


def test_baseline_refuses_a_key_that_does_not_match_the_pin(
    cli, signed: tuple[Path, Path], tmp_path: Path
) -> None:
    config, manifest = signed
    before = manifest.read_bytes()
    other = generate_keypair(tmp_path / "other.key")
    result = cli("baseline", "-c", str(config), "--sign-with", str(other.private_path))
    assert result.code == 2 and "does not match the pinned integrity.public_key" in result.err
    assert manifest.read_bytes() == before
    missing = cli("baseline", "-c", str(config), "--sign-with", str(tmp_path / "nope.key"))
    assert missing.code == 2 and "nope.key: no such key file" in missing.err


def test_off_box_signing_flow(
    cli, signed: tuple[Path, Path], tmp_path: Path, signing_key: Path
) -> None:
    """baseline --export-digest; sign elsewhere (garrison or openssl); import-signature."""
    config, manifest = signed
    digest = tmp_path / "digest.txt"
    made = cli("baseline", "-c", str(config), "--export-digest", str(digest))
    assert made.code == 0 and "NOT SIGNED" in made.out
    assert cli("verify", "-c", str(config)).code == 2
    sig = tmp_path / "baseline.sig"
    assert (
        cli("baseline", "sign-digest", str(digest), "--key", str(signing_key), "-o", str(sig)).code
        == 0
    )
    imported = cli("baseline", "import-signature", "-c", str(config), str(sig))
    assert imported.code == 0, imported.err
    assert cli("verify", "-c", str(config)).code == 0
    # openssl on a workstation: raw 64-byte ed25519 signature
    raw = tmp_path / "openssl.sig"
    subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            str(signing_key),
            "-in",
            str(digest),
            "-out",
            str(raw),
        ],
        check=True,
    )
    Path(str(manifest) + ".sig").unlink()
    assert cli("baseline", "import-signature", "-c", str(config), str(raw)).code == 0
    assert cli("verify", "-c", str(config)).code == 0
    # a signature by another key is refused at import
    rogue = Ed25519PrivateKey.generate().sign(digest.read_bytes())
    bad = tmp_path / "rogue.sig"
    bad.write_text(base64.b64encode(rogue).decode())
    result = cli("baseline", "import-signature", "-c", str(config), str(bad))
    assert result.code == 2 and "does not verify against the pinned key" in result.err


def test_verify_baseline_api_raises_integrity_error(signed: tuple[Path, Path]) -> None:
    config, manifest = signed
    loaded = load_config(str(config))
    assert verify_baseline(loaded).clean
    Path(str(manifest) + ".sig").unlink()
    with pytest.raises(IntegrityError, match="not signed"):
        verify_baseline(loaded)


def test_statement_names_digest_and_count(signed: tuple[Path, Path]) -> None:
    from garrison.integrity.manifest import load_manifest

    _config, manifest = signed
    summary = load_manifest(manifest).summary
    text = statement(summary).decode()
    assert f"sha256={summary.sha256}" in text and f"records={summary.records}" in text


def test_data_appended_after_the_manifest(cli, signed: tuple[Path, Path]) -> None:
    config, manifest = signed
    extra = gzip.compress(b"/usr/bin/evil\tf\t4755\t0\t0\t1\t1\t1\t1\t1\t1\t-\t-\tabc\n")
    manifest.write_bytes(manifest.read_bytes() + extra)  # a second gzip member
    _refused(cli, config, "data after the end of the manifest: tampered")
