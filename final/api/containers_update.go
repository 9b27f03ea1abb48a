package api

import (
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// POST /containers/{id}/update (docker update): a container's restart
// policy and resources, changed while it exists, running or not. The
// body is an UpdateConfig; a zero field means "leave it as it is" (the
// docker CLI sends every field, zero unless its flag was given). The
// answer is 200 with the engine's warnings.

func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) error {
	var req container.UpdateConfig
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	resp, err := s.backend.ContainerUpdate(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// updateFlags are docker update's flags for the fields of Resources
// (and docker run's, for those update does not have).
var updateFlags = map[string]string{
	"CPUShares": "--cpu-shares", "Memory": "--memory", "NanoCPUs": "--cpus",
	"CgroupParent": "--cgroup-parent", "BlkioWeight": "--blkio-weight",
	"BlkioWeightDevice": "--blkio-weight-device", "BlkioDeviceReadBps": "--device-read-bps",
	"BlkioDeviceWriteBps": "--device-write-bps", "BlkioDeviceReadIOps": "--device-read-iops",
	"BlkioDeviceWriteIOps": "--device-write-iops", "CPUPeriod": "--cpu-period", "CPUQuota": "--cpu-quota",
	"CPURealtimePeriod": "--cpu-rt-period", "CPURealtimeRuntime": "--cpu-rt-runtime",
	"CpusetCpus": "--cpuset-cpus", "CpusetMems": "--cpuset-mems", "Devices": "--device",
	"DeviceCgroupRules": "--device-cgroup-rule", "DeviceRequests": "--gpus",
	"MemoryReservation": "--memory-reservation", "MemorySwap": "--memory-swap",
	"MemorySwappiness": "--memory-swappiness", "OomKillDisable": "--oom-kill-disable",
	"PidsLimit": "--pids-limit", "Ulimits": "--ulimit", "CPUCount": "--cpu-count",
	"CPUPercent": "--cpu-percent", "IOMaximumIOps": "--io-maxiops", "IOMaximumBandwidth": "--io-maxbandwidth",
}

// UpdatedResources lists the resources an update asks to change, each
// as "--flag (Field)", in the struct's order, leaving out those in
// applied (Go field names): a backend refuses the rest by name rather
// than accept them and change nothing. An empty list or a null pointer
// asks for nothing.
func UpdatedResources(r container.Resources, applied ...string) []string {
	var asked []string
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		zero := f.IsZero() || (f.Kind() == reflect.Slice && f.Len() == 0)
		if zero || slices.Contains(applied, name) {
			continue
		}
		if flag, ok := updateFlags[name]; ok {
			name = flag + " (" + name + ")"
		}
		asked = append(asked, name)
	}
	return asked
}

// RefuseUpdate is the 400 for resources an update cannot apply.
func RefuseUpdate(asked []string) error {
	return invalid("updating " + strings.Join(asked, ", ") + " is not supported: docker update applies the restart policy (--restart), --memory, --memory-swap, --memory-reservation, --cpus, --cpu-period, --cpu-quota, --cpu-rt-period, --cpu-rt-runtime, --cpu-shares, --cpuset-cpus, --cpuset-mems, --blkio-weight and --pids-limit")
}
