#!/usr/bin/env bash
# Install qinglang as a system service (Debian, Ubuntu, Raspberry Pi OS; run as root):
#
#   sudo scripts/install.sh [--prefix /opt/qinglang] [--data-dir /var/lib/qinglang]
#                           [--unit-dir /etc/systemd/system] [--bin-dir /usr/local/bin]
#                           [--user qinglang] [--no-systemctl]
#
# 1. a system user and group (no login shell; its home is the data directory);
# 2. a virtual environment PREFIX/venv with qinglang installed from this checkout, the
#    shipped lists in PREFIX/blocklists and PREFIX/qinglang-nft.sh (owned by root: the
#    service cannot change them), and BIN_DIR/qinglang;
# 3. the data directory, owned by the user, mode 0700, with the default config and the CA
#    (its private key mode 0600: readable by the service only);
# 4. the systemd unit (scripts/qinglang.service) with these paths, enabled and started
#    unless --no-systemctl (logs go to the journal: see the unit for why), and
#    scripts/qinglang-nft.service for transparent mode, installed but not enabled.
#
# Every option can also be given in the environment: QINGLANG_PREFIX, QINGLANG_DATA_DIR,
# QINGLANG_UNIT_DIR, QINGLANG_BIN_DIR, QINGLANG_USER, QINGLANG_NO_SYSTEMCTL=1; PYTHON
# picks the interpreter (default python3, 3.11 or later). Running it again upgrades the
# package and keeps the data directory as it is.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${QINGLANG_PREFIX:-/opt/qinglang}
DATA_DIR=${QINGLANG_DATA_DIR:-/var/lib/qinglang}
UNIT_DIR=${QINGLANG_UNIT_DIR:-/etc/systemd/system}
BIN_DIR=${QINGLANG_BIN_DIR:-/usr/local/bin}
SVC_USER=${QINGLANG_USER:-qinglang}
NO_SYSTEMCTL=${QINGLANG_NO_SYSTEMCTL:-0}
PYTHON=${PYTHON:-python3}

die() {
    echo "install.sh: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --prefix | --data-dir | --unit-dir | --bin-dir | --user)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
        --prefix) PREFIX=$2 ;;
        --data-dir) DATA_DIR=$2 ;;
        --unit-dir) UNIT_DIR=$2 ;;
        --bin-dir) BIN_DIR=$2 ;;
        --user) SVC_USER=$2 ;;
        esac
        shift 2
        ;;
    --no-systemctl)
        NO_SYSTEMCTL=1
        shift
        ;;
    -h | --help)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown option: $1 (see --help)" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "run it as root (sudo $0)"
for p in "$PREFIX" "$DATA_DIR" "$UNIT_DIR" "$BIN_DIR"; do
    [[ $p == /* ]] || die "paths must be absolute: $p"
    [[ $p != *[[:space:]]* ]] || die "paths must not contain spaces: $p"
done
[[ $SVC_USER =~ ^[a-z_][a-z0-9_-]{0,30}$ ]] || die "not a user name: $SVC_USER"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$PYTHON is older than 3.11"
"$PYTHON" -m venv --help >/dev/null 2>&1 || die "no venv module: apt-get install python3-venv"
# The scan path has compiled parts (Cython): pip builds them with a C++ compiler.
command -v g++ >/dev/null 2>&1 || die "no C++ compiler: apt-get install g++"
"$PYTHON" -c 'import os, sysconfig, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
    die "no Python headers for $PYTHON: apt-get install python3-dev"

# 1. The service user.
if ! id -u "$SVC_USER" >/dev/null 2>&1; then
    nologin=$(command -v nologin || echo /usr/sbin/nologin)
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell "$nologin" --comment "qinglang filtering proxy" "$SVC_USER"
    echo "install.sh: created the system user $SVC_USER"
fi
group=$(id -gn "$SVC_USER")

# 2. The program, owned by root (the service may run it, not change it).
install -d -m 0755 "$PREFIX"
# The venv links to the interpreter: the service user must be able to run it (not, say,
# a pyenv build under /root).
py=$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')
runuser -u "$SVC_USER" -- "$py" -c pass 2>/dev/null ||
    die "$SVC_USER cannot run $py; use a system Python: PYTHON=/usr/bin/python3 $0 ..."
if ! runuser -u "$SVC_USER" -- "$PREFIX/venv/bin/python" -c pass 2>/dev/null; then
    rm -rf "$PREFIX/venv"
    "$PYTHON" -m venv "$PREFIX/venv"
fi
"$PREFIX/venv/bin/python" -m pip install -q --upgrade "$SRC"
rm -rf "$PREFIX/blocklists.new"
cp -R "$SRC/blocklists" "$PREFIX/blocklists.new"
chmod -R u=rwX,go=rX "$PREFIX/blocklists.new"
rm -rf "$PREFIX/blocklists"
mv "$PREFIX/blocklists.new" "$PREFIX/blocklists"
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"
install -m 0755 "$SRC/scripts/qinglang-nft.sh" "$PREFIX/qinglang-nft.sh"
install -d -m 0755 "$BIN_DIR"
ln -sfn "$PREFIX/venv/bin/qinglang" "$BIN_DIR/qinglang"

# 3. The data directory: the user's alone (config, stores, the CA's private key).
install -d -m 0700 -o "$SVC_USER" -g "$group" "$DATA_DIR"
(cd / && runuser -u "$SVC_USER" -- env HOME="$DATA_DIR" QINGLANG_CACHE="$DATA_DIR/.cache" \
    "$PREFIX/venv/bin/qinglang" init --data-dir "$DATA_DIR")
rm -rf "$DATA_DIR/.cache"
chmod 0700 "$DATA_DIR" "$DATA_DIR/ca"
chmod 0600 "$DATA_DIR"/ca/mitmproxy-ca.pem "$DATA_DIR"/ca/mitmproxy-ca.p12

# 4. The unit, with the chosen paths and user.
install -d -m 0755 "$UNIT_DIR"
sed -e "s#/opt/qinglang#$PREFIX#g" -e "s#/var/lib/qinglang#$DATA_DIR#g" \
    -e "s#^User=qinglang#User=$SVC_USER#" -e "s#^Group=qinglang#Group=$group#" \
    "$SRC/scripts/qinglang.service" >"$UNIT_DIR/qinglang.service.new"
chmod 0644 "$UNIT_DIR/qinglang.service.new"
mv "$UNIT_DIR/qinglang.service.new" "$UNIT_DIR/qinglang.service"
# Transparent mode's rules at boot: installed, enabled only by the admin (README.md).
sed -e "s#/opt/qinglang#$PREFIX#g" "$SRC/scripts/qinglang-nft.service" \
    >"$UNIT_DIR/qinglang-nft.service.new"
chmod 0644 "$UNIT_DIR/qinglang-nft.service.new"
mv "$UNIT_DIR/qinglang-nft.service.new" "$UNIT_DIR/qinglang-nft.service"

if [ "$NO_SYSTEMCTL" = 1 ]; then
    echo "install.sh: unit written to $UNIT_DIR/qinglang.service (systemctl not run)"
else
    systemctl daemon-reload
    systemctl enable qinglang.service
    systemctl restart qinglang.service
    echo "install.sh: qinglang is running; addresses and the first sign-in step:"
    echo "    journalctl -u qinglang -b | grep 'qinglang:'"
fi
echo "install.sh: dashboard password: sudo -u $SVC_USER $BIN_DIR/qinglang admin set-password --config $DATA_DIR/qinglang.yaml"
