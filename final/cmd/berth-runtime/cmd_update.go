package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/final/ociruntime"
)

// `update ID [--resources FILE|-] [runc's flags]`: new limits for a
// running container (ociruntime.Update).
func init() {
	var resources string
	c := &cobra.Command{
		Use:   "update ID",
		Short: "change the resource limits of a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := updateRequest(cmd.Flags(), resources, os.Stdin)
			if err != nil {
				return err
			}
			return ociruntime.Update(global.Root, args[0], r)
		},
	}
	f := c.Flags()
	f.StringVarP(&resources, "resources", "r", "", "a file holding linux.resources as JSON (\"-\": standard input)")
	for _, n := range []string{"memory", "memory-reservation", "memory-swap"} {
		f.String(n, "", "bytes, or a size such as 64m (-1: unlimited, for --memory-swap)")
	}
	f.String("cpu-share", "", "CPU shares, the weight against other containers")
	f.String("cpu-shares", "", "the same as --cpu-share")
	f.String("cpu-quota", "", "CPU time in microseconds per period (-1: unlimited)")
	f.String("cpu-period", "", "the CPU period in microseconds")
	f.String("cpuset-cpus", "", "CPUs the container may use (0-2,4)")
	f.String("cpuset-mems", "", "memory nodes the container may use")
	f.String("pids-limit", "", "most tasks at once (-1 or 0: unlimited)")
	f.String("blkio-weight", "", "block I/O weight (10 to 1000)")
	// runc's flags that berth does not apply: refused by name if given.
	for _, n := range unsupportedUpdateFlags {
		f.String(n, "", "not supported by berth-runtime (refused)")
	}
	register(c)
}

// updateFlags are the flags update applies.
var updateFlags = []string{"memory", "memory-reservation", "memory-swap", "cpu-share", "cpu-shares", "cpu-quota",
	"cpu-period", "cpuset-cpus", "cpuset-mems", "pids-limit", "blkio-weight"}

var unsupportedUpdateFlags = []string{"kernel-memory", "kernel-memory-tcp", "cpu-rt-period", "cpu-rt-runtime", "l3-cache-schema", "mem-bw-schema"}

// updateRequest reads --resources and lays the flags over it.
func updateRequest(f *pflag.FlagSet, resources string, stdin io.Reader) (*specs.LinuxResources, error) {
	for _, n := range unsupportedUpdateFlags {
		if f.Changed(n) {
			return nil, fmt.Errorf("--%s: not supported by berth-runtime", n)
		}
	}
	var r *specs.LinuxResources
	if resources != "" {
		// runc ignores the flags then; berth refuses what it would
		// not apply.
		var given []string
		for _, n := range updateFlags {
			if f.Changed(n) {
				given = append(given, "--"+n)
			}
		}
		if len(given) > 0 {
			return nil, fmt.Errorf("%s: not with --resources (put the values in the document)", strings.Join(given, ", "))
		}
		var (
			b   []byte
			err error
		)
		if resources == "-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(resources)
		}
		if err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		r = &specs.LinuxResources{}
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields() // none dropped without a word
		if err := d.Decode(r); err != nil {
			return nil, fmt.Errorf("--resources %s: %w", resources, err)
		}
	}
	var u ociruntime.UpdateFlags
	var err error
	get := func(name string) (string, bool) {
		if !f.Changed(name) {
			return "", false
		}
		v, _ := f.GetString(name)
		return v, true
	}
	bytesFlag := func(name string, dst **int64) {
		if v, ok := get(name); ok && err == nil {
			var n int64
			if strings.TrimSpace(v) == "-1" {
				n = -1
			} else if n, err = cgroup.ParseMemory(v); err != nil {
				err = fmt.Errorf("--%s: %w", name, err)
				return
			}
			*dst = &n
		}
	}
	intFlag := func(name string, bits int, dst func(int64)) {
		if v, ok := get(name); ok && err == nil {
			n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
			if perr != nil {
				err = fmt.Errorf("--%s %q: %w", name, v, perr)
				return
			}
			dst(n)
		}
	}
	uintFlag := func(name string, bits int, dst func(uint64)) {
		if v, ok := get(name); ok && err == nil {
			n, perr := strconv.ParseUint(strings.TrimSpace(v), 10, bits)
			if perr != nil {
				err = fmt.Errorf("--%s %q: %w", name, v, perr)
				return
			}
			dst(n)
		}
	}
	bytesFlag("memory", &u.Memory)
	bytesFlag("memory-reservation", &u.MemoryReservation)
	bytesFlag("memory-swap", &u.MemorySwap)
	uintFlag("cpu-share", 64, func(n uint64) { u.CPUShares = &n })
	uintFlag("cpu-shares", 64, func(n uint64) { u.CPUShares = &n })
	intFlag("cpu-quota", 64, func(n int64) { u.CPUQuota = &n })
	uintFlag("cpu-period", 64, func(n uint64) { u.CPUPeriod = &n })
	if v, ok := get("cpuset-cpus"); ok {
		u.CpusetCpus = &v
	}
	if v, ok := get("cpuset-mems"); ok {
		u.CpusetMems = &v
	}
	intFlag("pids-limit", 64, func(n int64) { u.PidsLimit = &n })
	uintFlag("blkio-weight", 16, func(n uint64) { w := uint16(n); u.BlkioWeight = &w })
	if err != nil {
		return nil, err
	}
	return u.Apply(r), nil
}
