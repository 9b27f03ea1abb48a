package daemon

import (
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// The less common limits of docker run (chapter 02's swap.go,
// realtime.go and io.go), with dockerd's defaults, checks and words:
//
//	-m 64m                      MemorySwap 128m (Docker's default: as much swap as memory)
//	--memory-swap 192m | -1     memory plus swap | unlimited swap
//	--memory-swappiness 10      v1 only
//	--cpu-period 50000          with --cpu-quota: 0.5 CPU of a 50 ms period
//	--cpu-rt-runtime/-period    v1 with CONFIG_RT_GROUP_SCHED; the parent
//	                            cgroup needs a real-time budget of its own
//	--blkio-weight(-device)     only where the I/O scheduler weighs: dockerd
//	                            drops them with a warning elsewhere, berth
//	                            refuses them by name
//	--device-read-bps ...       by the device's numbers, read now (stat)

// dockerSwap gives -m without --memory-swap Docker's default, as dockerd
// does at create (so inspect shows it): twice the memory, or, on a host
// that cannot limit swap, -1 and dockerd's warning.
func dockerSwap(r *container.Resources) (warning string) {
	if r.Memory <= 0 || r.MemorySwap != 0 {
		return ""
	}
	if h, err := cgroup.System(); err == nil && !h.SwapAccounting() {
		r.MemorySwap = -1
		return "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
	}
	r.MemorySwap = cgroup.DockerSwap(r.Memory, 0)
	return ""
}

// swapResources maps --memory-swap and --memory-swappiness.
func swapResources(r container.Resources, out *cgroup.Resources) error {
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.MemorySwap < -1 {
		return invalid("invalid memory+swap limit %d: -1 means unlimited swap", r.MemorySwap)
	}
	out.MemorySwap = r.MemorySwap
	if s := r.MemorySwappiness; s != nil && *s != -1 {
		if *s < 0 || *s > 100 {
			return invalid("Invalid value: %v, valid memory swappiness range is 0-100", *s)
		}
		v := uint64(*s)
		out.Swappiness = &v
	}
	return nil
}

// realtimeResources maps --cpu-rt-runtime and --cpu-rt-period.
func realtimeResources(r container.Resources, out *cgroup.Resources) error {
	if r.CPURealtimePeriod < 0 || r.CPURealtimeRuntime < -1 {
		return invalid("invalid --cpu-rt-period %d or --cpu-rt-runtime %d: must not be negative", r.CPURealtimePeriod, r.CPURealtimeRuntime)
	}
	if r.CPURealtimePeriod != 0 && r.CPURealtimeRuntime != 0 && r.CPURealtimeRuntime > r.CPURealtimePeriod {
		return invalid("cpu real-time runtime cannot be higher than cpu real-time period")
	}
	out.CPURealtimePeriod, out.CPURealtimeRuntime = uint64(r.CPURealtimePeriod), r.CPURealtimeRuntime
	return nil
}

// blkioResources maps the block I/O weights and throttles; each device
// is named by its path and given to the kernel by its numbers.
func blkioResources(r container.Resources, out *cgroup.Resources) error {
	if r.BlkioWeight > 0 && (r.BlkioWeight < cgroup.MinBlkioWeight || r.BlkioWeight > cgroup.MaxBlkioWeight) {
		return invalid("Range of blkio weight is from 10 to 1000")
	}
	out.BlkioWeight = r.BlkioWeight
	for _, w := range r.BlkioWeightDevice {
		if w == nil {
			continue
		}
		major, minor, err := blockDevice(w.Path)
		if err != nil {
			return err
		}
		if w.Weight < cgroup.MinBlkioWeight || w.Weight > cgroup.MaxBlkioWeight {
			return invalid("invalid weight for device %s: %d (the range is 10 to 1000)", w.Path, w.Weight)
		}
		out.BlkioWeightDevice = append(out.BlkioWeightDevice, cgroup.WeightDevice{Major: major, Minor: minor, Weight: w.Weight})
	}
	for _, t := range []struct {
		in  []*blkiodev.ThrottleDevice
		out *[]cgroup.ThrottleDevice
	}{
		{r.BlkioDeviceReadBps, &out.ReadBps},
		{r.BlkioDeviceWriteBps, &out.WriteBps},
		{r.BlkioDeviceReadIOps, &out.ReadIOPS},
		{r.BlkioDeviceWriteIOps, &out.WriteIOPS},
	} {
		for _, d := range t.in {
			if d == nil {
				continue
			}
			major, minor, err := blockDevice(d.Path)
			if err != nil {
				return err
			}
			*t.out = append(*t.out, cgroup.ThrottleDevice{Major: major, Minor: minor, Rate: d.Rate})
		}
	}
	return nil
}

// blockDevice reads the numbers of the block device at path (dockerd
// reads them when it starts the container; berth at create, so a wrong
// path is a 400 rather than a failed start).
func blockDevice(path string) (int64, int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, invalid("stat %s: %v", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, invalid("%s is not a block device", path)
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}

// lessCommon reports whether r asks for one of these limits, which
// hostLessCommon must check against the host.
func lessCommon(r cgroup.Resources) bool {
	return r.MemorySwap > r.Memory || r.Swappiness != nil || r.CPURealtimeRuntime != 0 || r.CPURealtimePeriod != 0 ||
		r.BlkioWeight != 0 || len(r.BlkioWeightDevice)+len(r.ReadBps)+len(r.WriteBps)+len(r.ReadIOPS)+len(r.WriteIOPS) > 0
}

// hostLessCommon refuses, at create and by flag, what this host has no
// file for (chapter 02's Supports). Real time is refused in dockerd's
// words, as dockerd refuses it too.
func hostLessCommon(h *cgroup.Hierarchy, r cgroup.Resources) error {
	if r.CPURealtimePeriod != 0 && h.Supports(cgroup.Resources{CPURealtimePeriod: r.CPURealtimePeriod}) != nil {
		return invalid("Your kernel does not support cgroup cpu real-time period")
	}
	if r.CPURealtimeRuntime != 0 && h.Supports(cgroup.Resources{CPURealtimeRuntime: r.CPURealtimeRuntime}) != nil {
		return invalid("Your kernel does not support cgroup cpu real-time runtime")
	}
	for _, f := range []struct {
		flag string
		r    cgroup.Resources
	}{
		{"--memory-swap", cgroup.Resources{Memory: r.Memory, MemorySwap: r.MemorySwap}},
		{"--memory-swappiness", cgroup.Resources{Swappiness: r.Swappiness}},
		{"--blkio-weight", cgroup.Resources{BlkioWeight: r.BlkioWeight}},
		{"--blkio-weight-device", cgroup.Resources{BlkioWeightDevice: r.BlkioWeightDevice}},
		{"--device-read-bps", cgroup.Resources{ReadBps: r.ReadBps}},
		{"--device-write-bps", cgroup.Resources{WriteBps: r.WriteBps}},
		{"--device-read-iops", cgroup.Resources{ReadIOPS: r.ReadIOPS}},
		{"--device-write-iops", cgroup.Resources{WriteIOPS: r.WriteIOPS}},
	} {
		if err := h.Supports(f.r); err != nil {
			return invalid("%s is not supported on this host: %s", f.flag, strings.TrimSpace(fmt.Sprint(err)))
		}
	}
	return nil
}
