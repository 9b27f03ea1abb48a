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
