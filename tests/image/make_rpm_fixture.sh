#!/bin/sh
# Regenerates tests/fixtures/roots/image-rpm/var/lib/rpm/rpmdb.sqlite with the real rpm tool
# (apt-get install rpm). Not run by the tests: the database is committed, so the tests need no rpm.
set -eu
out="$(cd "$(dirname "$0")/../fixtures/roots/image-rpm" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1739000000  # 2025-02-08: fixed build dates, reproducible fixture
for spec in "gcc 11.4.1 3.el9 x86_64" "kernel-core 5.14.0 427.13.1.el9_4 x86_64" \
            "telnet-server 0.17 85.el9 x86_64" "bash 5.1.8 9.el9 x86_64" \
            "xorg-x11-server-Xorg 1.20.11 24.el9 x86_64" "dnf-automatic 4.14.0 9.el9 noarch"; do
  set -- $spec
  cat > "$work/$1.spec" <<SPEC
Name: $1
Version: $2
Release: $3
Summary: fixture package $1
License: MIT
BuildArch: $4
$( [ "$1" = bash ] && echo "Epoch: 1" )
%description
A package record for garrison's rpm database fixture (no files).
%files
SPEC
  rpmbuild --quiet --define "_topdir $work/build" \
    --define "use_source_date_epoch_as_buildtime 1" -bb "$work/$1.spec"
done
mkdir -p "$work/root"
rpm --root "$work/root" --dbpath /var/lib/rpm --define '_db_backend sqlite' --initdb
rpm --root "$work/root" --dbpath /var/lib/rpm --define '_db_backend sqlite' \
  -i --nodeps --justdb --noscripts "$work"/build/RPMS/*/*.rpm 2>/dev/null
python3 - "$work/root/var/lib/rpm/rpmdb.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=DELETE"); db.execute("PRAGMA page_size=1024"); db.execute("VACUUM")
db.close()
PY
mkdir -p "$out/var/lib/rpm"
cp "$work/root/var/lib/rpm/rpmdb.sqlite" "$out/var/lib/rpm/rpmdb.sqlite"
rpm --root "$work/root" --dbpath /var/lib/rpm -qa --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH} %{BUILDTIME:date}\n'
