#!/bin/sh
# Copied by `make release` into the wheelhouse as install.sh. Installs Whistle from the
# wheelhouse next to it, offline, on Debian 12 (server or inbox laptop), as root:
#
#   cd /media/usb/wheelhouse && sha256sum -c SHA256SUMS && sh install.sh
#
# into /opt/whistle/venv (WHISTLE_VENV), with `whistle` linked into /usr/local/bin. The same
# command upgrades an installed version. Needs only python3: the venv is made without
# ensurepip (no python3-venv package) and pip runs from its own wheel in the wheelhouse.
# Arguments replace what is installed, e.g. `sh install.sh 'whistle-office[postgres]'`.
set -eu
# Whatever root's own umask: the site runs from the venv as the whistle user.
umask 022
here=$(cd "$(dirname "$0")" && pwd)
venv=${WHISTLE_VENV:-/opt/whistle/venv}
link=${WHISTLE_LINK:-/usr/local/bin/whistle}
cd "$here"
sha256sum --check --quiet SHA256SUMS
# pip takes every archive here, listed or not: an unlisted one is refused, not installed.
for file in * .[!.]*; do
    case $file in
        *.whl | *.tar.gz | *.tgz | *.tar.bz2 | *.tar.xz | *.zip | *.tar) ;;
        *) continue ;;
    esac
    if ! cut -c67- SHA256SUMS | grep -qxF -- "$file"; then
        echo "install.sh: $file is not listed in SHA256SUMS: remove it, or use the wheelhouse as built" >&2
        exit 1
    fi
done
set -- "${@:-whistle-office}"
for pip_wheel in pip-*.whl; do :; done
if [ ! -f "$pip_wheel" ]; then
    echo "install.sh: no pip wheel in $here" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv --without-pip "$venv"
fi
"$venv/bin/python" "$here/$pip_wheel/pip" --disable-pip-version-check install --quiet \
    --no-index --find-links "$here" --upgrade "$@"
if [ -n "$link" ]; then
    mkdir -p "$(dirname "$link")"
    ln -sfn "$venv/bin/whistle" "$link"
fi
echo "Installed: $("$venv/bin/whistle" --version) in $venv${link:+, linked as $link}"
