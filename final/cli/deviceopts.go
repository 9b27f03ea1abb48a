package cli

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// parseDevices turns --device HOST[:CONTAINER][:rwm] into the API's
// mappings, as the docker CLI does: a second field that reads like an
// access ("rw") is one, else it is the path in the container; the path
// in the container defaults to the host's, the access to rwm. The host's
// node is the daemon's to read. The messages are docker 28's.
func parseDevices(list []string) ([]container.DeviceMapping, error) {
	out := []container.DeviceMapping{} // docker sends [] for none
	for _, s := range list {
		m := container.DeviceMapping{CgroupPermissions: "rwm"}
		f := strings.Split(s, ":")
		switch len(f) {
		case 1:
		case 2:
			if deviceAccess(f[1]) {
				m.CgroupPermissions = f[1]
			} else {
				m.PathInContainer = f[1]
			}
		case 3:
			m.PathInContainer, m.CgroupPermissions = f[1], f[2]
		default:
			return nil, fmt.Errorf("bad format for path: %s", s)
		}
		m.PathOnHost = f[0]
		if m.PathInContainer == "" {
			m.PathInContainer = m.PathOnHost
		}
		if !path.IsAbs(m.PathInContainer) {
			return nil, fmt.Errorf("%s is not an absolute path", m.PathInContainer)
		}
		if !deviceAccess(m.CgroupPermissions) {
			return nil, fmt.Errorf("bad mode specified: %s", m.CgroupPermissions)
		}
		out = append(out, m)
	}
	return out, nil
}

// deviceAccess reports whether s is a cgroup access: r, w and m, each
// at most once.
func deviceAccess(s string) bool {
	if s == "" || len(s) > 3 || strings.Trim(s, "rwm") != "" {
		return false
	}
	return strings.Count(s, "r") < 2 && strings.Count(s, "w") < 2 && strings.Count(s, "m") < 2
}

// deviceCgroupRule is the form the docker CLI checks --device-cgroup-rule
// against before sending it; the daemon checks it again.
var deviceCgroupRule = regexp.MustCompile(`^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`)

func checkDeviceCgroupRules(list []string) error {
	for _, r := range list {
		if !deviceCgroupRule.MatchString(r) {
			return fmt.Errorf("invalid argument %q for \"--device-cgroup-rule\" flag: invalid device cgroup format '%s'", r, r)
		}
	}
	return nil
}
