package cgroup

import (
	"flag"
	"fmt"
)

// AddFlags registers the chapter 02 flags on fs. Each value is checked as
// it is parsed, so a bad limit is reported before anything is created.
func (r *Resources) AddFlags(fs *flag.FlagSet) {
	fs.Func("memory", "memory limit, e.g. 32m or 1g (k, m, g units)", func(s string) (err error) {
		r.Memory, err = ParseMemory(s)
		return err
	})
	fs.Func("cpus", "CPU limit in cores, e.g. 0.5", func(s string) (err error) {
		r.CPUs, err = ParseCPUs(s)
		return err
	})
	fs.Func("pids-limit", "most processes and threads at once, e.g. 64", func(s string) (err error) {
		r.PidsMax, err = ParsePidsLimit(s)
		return err
	})
	fs.Func("device-cgroup-rule", "also allow devices: 'TYPE MAJOR:MINOR ACCESS', e.g. 'c 1:11 rw' (repeatable)", func(s string) error {
		return r.AddDeviceRule(s)
	})
}

// AddDeviceRule parses rule (see ParseDeviceRule) and adds it to the
// device policy, on top of DefaultDevices if none was set.
func (r *Resources) AddDeviceRule(rule string) error {
	d, err := ParseDeviceRule(rule)
	if err != nil {
		return err
	}
	if r.Devices == nil {
		r.Devices = DefaultDevices()
	}
	r.Devices = append(r.Devices, d)
	return nil
}

// FormatBytes writes a byte count the way the --memory flag takes it:
// 33554432 is "32MiB".
func FormatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}
