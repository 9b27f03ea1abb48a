package cli

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/03-rootfs/seccomp"
)

// parseSecurityOpts reads --security-opt as the docker CLI does: a
// seccomp profile is named by its file, but sent as its JSON content
// ("seccomp=" and the compacted file), because the daemon may run on
// another machine. The other options go to the daemon as they are.
func parseSecurityOpts(opts []string) ([]string, error) {
	if len(opts) == 0 {
		return nil, nil // as docker sends it: inspect shows null
	}
	out := make([]string, 0, len(opts))
	for _, o := range opts {
		key, value, ok := strings.Cut(o, "=")
		if !ok {
			key, value, ok = strings.Cut(o, ":")
		}
		if ok && key == "seccomp" && value != "unconfined" && value != "builtin" {
			p, err := seccomp.ReadProfile(value)
			if err != nil {
				return nil, fmt.Errorf("--security-opt %s: %w", o, err)
			}
			o = "seccomp=" + p.JSON
		}
		out = append(out, o)
	}
	return out, nil
}
