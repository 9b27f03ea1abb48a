# Sourced by the other scripts: the environment they all need.
# sudo resets PATH; Go lives in /usr/local/go on a fresh machine.
export PATH=/usr/local/go/bin:$HOME/go/bin:$PATH
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || { echo "berth: Go is not installed (https://go.dev/doc/install)" >&2; exit 1; }
