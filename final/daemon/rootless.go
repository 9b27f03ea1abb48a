package daemon

import (
	"github.com/moby/moby/api/types/container"
)

// A rootless daemon (Options.Rootless, final/rootless) is root only in a
// user namespace of an ordinary user's. On this kind of host (cgroup v1,
// or v2 without systemd delegating a subtree to the user) it cannot make
// a cgroup: the cgroup filesystems belong to the host's root. So its
// containers run without a cgroup of their own (chapter 02's NoCgroup),
// and every option that only a cgroup can apply is refused, by name,
// with a 400: a --memory that limits nothing would be a lie.

// rootlessNoCgroup ends each refusal: why, in the daemon's words.
const rootlessNoCgroup = " needs a cgroup, and a rootless berthd cannot make one (the host delegates no cgroup to its users)"

// checkRootless refuses the first option of the request that needs a
// cgroup, when the daemon is rootless. The options that berth refuses
// in every mode (unsupported.go) are not repeated here.
func (d *Daemon) checkRootless(h *container.HostConfig) error {
	if !d.opts.Rootless {
		return nil
	}
	r := &h.Resources
	for _, u := range []unsupported{
		{r.Memory != 0, "--memory"},
		{r.NanoCPUs != 0, "--cpus"},
		{r.CPUQuota != 0 || r.CPUPeriod != 0, "--cpu-quota and --cpu-period"},
		{r.PidsLimit != nil && *r.PidsLimit > 0, "--pids-limit"},
	} {
		if u.asked {
			return invalid("%s%s", u.what, rootlessNoCgroup)
		}
	}
	return nil
}

// refuseRootlessFreeze refuses pause and unpause in a rootless daemon:
// the freezer is a cgroup's.
func (d *Daemon) refuseRootlessFreeze(what string) error {
	if !d.opts.Rootless {
		return nil
	}
	return invalid("%s%s", what, rootlessNoCgroup)
}
