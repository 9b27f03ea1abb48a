package cli

import (
	"fmt"
	"regexp"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// parseDevices turns --device HOST[:CONTAINER][:rwm] into the API's
// mappings, split as the docker CLI does (rootfs.SplitDevice). The
// host's node is the daemon's to read.
func parseDevices(list []string) ([]container.DeviceMapping, error) {
	out := []container.DeviceMapping{} // docker sends [] for none
	for _, s := range list {
		host, ctr, access, err := rootfs.SplitDevice(s)
		if err != nil {
			return nil, err
		}
		out = append(out, container.DeviceMapping{PathOnHost: host, PathInContainer: ctr, CgroupPermissions: access})
	}
	return out, nil
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
