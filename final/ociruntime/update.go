package ociruntime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the limits of a running container (`berth-runtime
// update`, which containerd's shim calls for `ctr task update` and the
// CRI's UpdateContainerResources): r is linux.resources as config.json
// spells it, holding only what changes. It is laid over the resources the
// container has (those create applied, or the last update's), the whole
// is translated by Resources as at create, written with chapter 02's
// Update, and recorded, so that the next update starts from it.
//
// Why merge instead of writing r alone: chapter 02's Update takes the
// complete limits, a zero meaning "no limit" (docker update works so),
// while an OCI update names only what changes; `update --memory 64m`
// must not lift the CPU limit.
//
// What Update can change is what Resources translates (memory limit,
// reservation and swap, cpu shares, quota, period, cpus and mems, the
// pids limit...), refusing by name what chapter 02 has no controller
// for. The device policy is only accepted unchanged (containerd sends
// the whole linux.resources, devices included, to change one limit).
func Update(root, id string, r *specs.LinuxResources) error {
	rec, cg, err := liveCgroup(root, id)
	if err != nil {
		return err
	}
	spec, err := RecordSpec(rec)
	if err != nil {
		return err
	}
	var cur specs.LinuxResources
	if spec.Linux != nil && spec.Linux.Resources != nil {
		cur = *spec.Linux.Resources
	}
	merged, err := mergeResources(cur, r)
	if err != nil {
		return fmt.Errorf("container %s: update: %w", rec.ID, err)
	}
	res, err := Resources(&merged)
	if err != nil {
		return fmt.Errorf("container %s: update: %w", rec.ID, err)
	}
	if err := cg.Update(res); err != nil {
		return fmt.Errorf("container %s: update: %w", rec.ID, err)
	}
	cfg, err := setResources(rec.Config, &merged)
	if err != nil {
		return fmt.Errorf("container %s: update: recording the new resources: %w", rec.ID, err)
	}
	rec.Config = cfg
	if err := rec.Save(root); err != nil {
		return fmt.Errorf("container %s: update: the limits are applied but not recorded: %w", rec.ID, err)
	}
	return nil
}

// RecordSpec decodes the config.json create recorded.
func RecordSpec(rec *Record) (*specs.Spec, error) {
	var s specs.Spec
	if len(rec.Config) == 0 {
		return &s, nil
	}
	if err := json.Unmarshal(rec.Config, &s); err != nil {
		return nil, fmt.Errorf("container %s: its recorded config.json: %w", rec.ID, err)
	}
	return &s, nil
}

// mergeResources lays the fields r sets over cur (see Update): every
// field r sets replaces cur's, objects field by field, as runc's update
// does for the fields it knows. Whether berth applies the result is
// Resources' to say, as at create. The device policy is the exception:
// chapter 02's Update leaves it as create set it, so r may only repeat
// it.
func mergeResources(cur specs.LinuxResources, r *specs.LinuxResources) (specs.LinuxResources, error) {
	if r == nil {
		return cur, nil
	}
	if r.Devices != nil && !sameJSON(r.Devices, cur.Devices) {
		return cur, errors.New("linux.resources.devices: update cannot change the device policy (create set it)")
	}
	base, err := jsonObject(cur)
	if err != nil {
		return cur, err
	}
	over, err := jsonObject(r)
	if err != nil {
		return cur, err
	}
	delete(over, "devices")
	b, err := json.Marshal(mergeObjects(base, over))
	if err != nil {
		return cur, err
	}
	var out specs.LinuxResources
	if err := json.Unmarshal(b, &out); err != nil {
		return cur, err
	}
	return out, nil
}

// jsonObject is v as a JSON object.
func jsonObject(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, json.Unmarshal(b, &m)
}

// mergeObjects lays over onto base: an object into an object field by
// field, anything else in place of what base has.
func mergeObjects(base, over map[string]any) map[string]any {
	for k, v := range over {
		bo, ok1 := base[k].(map[string]any)
		oo, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			base[k] = mergeObjects(bo, oo)
		} else {
			base[k] = v
		}
	}
	return base
}

// sameJSON compares two values as config.json would spell them, so that
// a nil pointer and a pointer to nothing, or nil and an empty list, are
// the same request.
func sameJSON(a, b any) bool {
	return bytes.Equal(canonJSON(a), canonJSON(b))
}

// canonJSON is v's JSON, with "null", "{}" and "[]" as nothing.
func canonJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprint(v))
	}
	switch string(b) {
	case "null", "{}", "[]", `""`:
		return nil
	}
	return b
}

// setResources replaces linux.resources in a recorded config.json and
// leaves every other byte of it as create recorded it (fields this
// version of specs-go does not know included).
func setResources(config json.RawMessage, r *specs.LinuxResources) (json.RawMessage, error) {
	top := map[string]json.RawMessage{}
	if len(config) > 0 {
		if err := json.Unmarshal(config, &top); err != nil {
			return nil, err
		}
	}
	linux := map[string]json.RawMessage{}
	if l, ok := top["linux"]; ok && !strings.EqualFold(string(l), "null") {
		if err := json.Unmarshal(l, &linux); err != nil {
			return nil, fmt.Errorf("linux: %w", err)
		}
	}
	rb, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	linux["resources"] = rb
	lb, err := json.Marshal(linux)
	if err != nil {
		return nil, err
	}
	top["linux"] = lb
	return json.Marshal(top)
}

// UpdateFlags are runc's update flags, each nil unless given; they take
// precedence over --resources.
type UpdateFlags struct {
	Memory, MemoryReservation, MemorySwap *int64
	CPUShares                             *uint64
	CPUQuota                              *int64
	CPUPeriod                             *uint64
	CpusetCpus, CpusetMems                *string
	PidsLimit                             *int64
	BlkioWeight                           *uint16
}

// Apply lays the flags over r, the --resources document (nil: none).
func (f UpdateFlags) Apply(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	if f.Memory != nil || f.MemoryReservation != nil || f.MemorySwap != nil {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if f.Memory != nil {
			r.Memory.Limit = f.Memory
		}
		if f.MemoryReservation != nil {
			r.Memory.Reservation = f.MemoryReservation
		}
		if f.MemorySwap != nil {
			r.Memory.Swap = f.MemorySwap
		}
	}
	if f.CPUShares != nil || f.CPUQuota != nil || f.CPUPeriod != nil || f.CpusetCpus != nil || f.CpusetMems != nil {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		if f.CPUShares != nil {
			r.CPU.Shares = f.CPUShares
		}
		if f.CPUQuota != nil {
			r.CPU.Quota = f.CPUQuota
		}
		if f.CPUPeriod != nil {
			r.CPU.Period = f.CPUPeriod
		}
		if f.CpusetCpus != nil {
			r.CPU.Cpus = *f.CpusetCpus
		}
		if f.CpusetMems != nil {
			r.CPU.Mems = *f.CpusetMems
		}
	}
	if f.PidsLimit != nil {
		r.Pids = &specs.LinuxPids{Limit: *f.PidsLimit}
	}
	if f.BlkioWeight != nil {
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = f.BlkioWeight
	}
	return r
}
