# Sourced by the other scripts: the environment they all need.
#
# A script that sets BERTH_AS_ROOT=1 before sourcing this needs root. In
# a root shell (which may have no sudo at all) it just runs; anyone else
# runs it through sudo, which it calls itself, so that the README's
# commands work as they are written either way. sudo resets the
# environment: the caller's PATH (where Go may be) and
# BERTH_REQUIRE_PRIVILEGED are passed on.
if [ -n "${BERTH_AS_ROOT:-}" ] && [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "berth: $0 needs root: run it as root, or install sudo" >&2; exit 1; }
	exec sudo env "PATH=$PATH" "BERTH_REQUIRE_PRIVILEGED=${BERTH_REQUIRE_PRIVILEGED:-}" "$0" "$@"
fi
# sudo resets PATH; Go lives in /usr/local/go on a fresh machine.
export PATH=/usr/local/go/bin:$HOME/go/bin:$PATH
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || { echo "berth: Go is not installed (https://go.dev/doc/install)" >&2; exit 1; }
