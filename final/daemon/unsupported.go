package daemon

import (
	"strconv"

	"github.com/moby/moby/api/types/container"
)

// A create request is refused, with a 400 that names the option, for
// every field berth would not apply. A container that runs without the
// limit, the capability drop or the restart policy its user asked for,
// and says nothing, is worse than one that does not run: the user finds
// out in production. So every field of the request is either applied
// (translate and the functions it calls), harmless to keep as it is
// (Annotations and labels are only recorded; ContainerIDFile is the
// client's), or refused here. When berth learns an option, its line
// goes.
//
// The docker CLI fills in some fields even when the user set nothing
// (RestartPolicy "no", empty lists): those values mean "nothing asked"
// and pass.

// unsupported is one option berth refuses: whether the request asks for
// it, and the message that names it.
type unsupported struct {
	asked bool
	what  string
}

// checkUnsupported refuses the first option of the request that berth
// does not apply.
func checkUnsupported(cfg *container.Config, h *container.HostConfig) error {
	r := &h.Resources
	for _, u := range []unsupported{
		{h.PidMode != "" && h.PidMode != "private" && !h.PidMode.IsHost() && !h.PidMode.IsContainer(), "--pid " + string(h.PidMode) + " is not supported: berth's PID modes are private, host and container:NAME"},
		{h.IpcMode != "" && !h.IpcMode.IsPrivate() && !h.IpcMode.IsShareable() && !h.IpcMode.IsHost() && !h.IpcMode.IsContainer(),
			"--ipc " + string(h.IpcMode) + " is not supported: berth's IPC modes are private, shareable, host and container:NAME"},
		{h.UTSMode != "" && h.UTSMode != "private", "--uts " + string(h.UTSMode) + " is not supported: a container has its own UTS namespace"},
		{h.UsernsMode != "" && h.UsernsMode != "host", "--userns " + string(h.UsernsMode) + " is not supported"},
		{h.Cgroup != "", "--cgroup (HostConfig.Cgroup) is not supported"},
		{h.VolumeDriver != "" && h.VolumeDriver != "local", "volume driver " + strconv.Quote(h.VolumeDriver) + " is not supported: berth has the local driver"},
		{len(h.StorageOpt) > 0, "--storage-opt is not supported"},
		{h.Runtime != "", "--runtime " + strconv.Quote(h.Runtime) + " is not supported: berth runs its containers itself"},
		{h.Umask != nil, "Umask is not supported"},
		{h.Isolation != "" && h.Isolation != "default", "--isolation " + string(h.Isolation) + " is not supported"},
		{h.MaskedPaths != nil || h.ReadonlyPaths != nil, "--security-opt systempaths (MaskedPaths, ReadonlyPaths) is not supported: berth masks Docker's default paths"},
		{len(r.DeviceRequests) > 0, "--gpus (DeviceRequests) is not supported"},
		{r.CPUCount != 0 || r.CPUPercent != 0 || r.IOMaximumIOps != 0 || r.IOMaximumBandwidth != 0, "--cpu-count, --cpu-percent, --io-maxiops and --io-maxbandwidth are Windows options"},
	} {
		if u.asked {
			return invalid("%s", u.what)
		}
	}
	return nil
}
