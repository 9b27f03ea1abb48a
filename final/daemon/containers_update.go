package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/04-cow-layers/atomicfile"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/restart"
)

// updatable are the resources docker update changes in berthd: the
// limits chapter 02 applies at create (resources, containers_create.go).
// The others are refused by name, as at create.
var updatable = []string{"Memory", "NanoCPUs", "CPUPeriod", "CPUQuota", "PidsLimit", "CPUShares", "CpusetCpus", "CpusetMems", "MemoryReservation",
	"MemorySwap", "BlkioWeight", "CPURealtimePeriod", "CPURealtimeRuntime"}

// ContainerUpdate is docker update: the restart policy and the limits
// of memory (and swap), CPU time (and real-time CPU time), tasks and the
// block I/O weight.
//
// The restart policy holds from the container's next exit on (a restart
// that is pending goes ahead), and is kept in the policy's record.
//
// New limits are merged into the container's as dockerd merges them (a
// zero field keeps the old value) and checked with dockerd's rules and
// words; then, in this order:
//
//	the live cgroup        a running container feels them at once (chapter 02's Update)
//	config.json's spec     the next start's cgroup is made with them (shim.Container.SetSpec)
//	api.json               inspect's HostConfig, also after a daemon restart
//
// A stopped container has no cgroup: its new limits take effect at its
// next start. If the disk cannot take them, the live cgroup gets its
// old limits back, so what runs and what inspect says never part.
func (d *Daemon) ContainerUpdate(ctx context.Context, name string, req container.UpdateConfig) (container.UpdateResponse, error) {
	e, err := d.lookup(name)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	if asked := api.UpdatedResources(req.Resources, updatable...); len(asked) > 0 {
		return container.UpdateResponse{}, api.RefuseUpdate(asked)
	}
	limits := len(api.UpdatedResources(req.Resources)) > 0
	if limits {
		if e.rec == nil {
			return container.UpdateResponse{}, invalid("Cannot update container %s: it was not created through the API and has no limits to change", e.id)
		}
		if err := checkUpdate(req.Resources); err != nil {
			return container.UpdateResponse{}, err
		}
	}
	if req.RestartPolicy.Name != "" {
		if err := restart.Validate(req.RestartPolicy, false); err != nil {
			return container.UpdateResponse{}, giveKind(errdefs.ErrInvalidArgument, err)
		}
		if e.autoRemove() && !req.RestartPolicy.IsNone() {
			// dockerd's words and status.
			return container.UpdateResponse{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Cannot update container %s: Restart policy cannot be updated because AutoRemove is enabled for the container", e.id))
		}
	}
	if limits {
		if err := d.updateLimits(e, req.Resources); err != nil {
			return container.UpdateResponse{}, err
		}
	}
	if req.RestartPolicy.Name != "" {
		if err := d.restartOf(e).SetPolicy(req.RestartPolicy); err != nil {
			return container.UpdateResponse{}, fmt.Errorf("updating container %s: %w", e.id, err)
		}
	}
	d.emitContainer(e, moby.ActionUpdate, nil)
	return container.UpdateResponse{Warnings: []string{}}, nil
}

// checkUpdate is dockerd's check of the request alone, before the
// container's values are looked at: a 400 without "Cannot update".
func checkUpdate(r container.Resources) error {
	switch {
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	_, err := resources(r)
	return err
}

// mergeResources is dockerd's merge of an update into the container's
// resources (its UpdateContainer): the CPU options that contradict the
// ones already set are a conflict, each non-zero field replaces the old.
func mergeResources(id string, old, r container.Resources) (container.Resources, error) {
	cannot := func(why string) error {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Cannot update container %s: Conflicting options: %s", id, why))
	}
	switch {
	case r.NanoCPUs > 0 && old.CPUPeriod > 0:
		return old, cannot("Nano CPUs cannot be updated as CPU Period has already been set")
	case r.NanoCPUs > 0 && old.CPUQuota > 0:
		return old, cannot("Nano CPUs cannot be updated as CPU Quota has already been set")
	case r.CPUPeriod > 0 && old.NanoCPUs > 0:
		return old, cannot("CPU Period cannot be updated as NanoCPUs has already been set")
	case r.CPUQuota > 0 && old.NanoCPUs > 0:
		return old, cannot("CPU Quota cannot be updated as NanoCPUs has already been set")
	}
	out := old
	if r.Memory != 0 {
		// dockerd's rule, as it words it: a memory limit above the
		// memory+swap limit in force needs a new one with it.
		if r.Memory > old.MemorySwap && r.MemorySwap == 0 {
			return old, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Cannot update container %s: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time", id))
		}
		out.Memory = r.Memory
	}
	if r.MemorySwap != 0 {
		out.MemorySwap = r.MemorySwap
	}
	if r.BlkioWeight != 0 {
		out.BlkioWeight = r.BlkioWeight
	}
	if r.CPURealtimePeriod != 0 {
		out.CPURealtimePeriod = r.CPURealtimePeriod
	}
	if r.CPURealtimeRuntime != 0 {
		out.CPURealtimeRuntime = r.CPURealtimeRuntime
	}
	if r.NanoCPUs != 0 {
		out.NanoCPUs = r.NanoCPUs
	}
	if r.CPUPeriod != 0 {
		out.CPUPeriod = r.CPUPeriod
	}
	if r.CPUQuota != 0 {
		out.CPUQuota = r.CPUQuota
	}
	if r.PidsLimit != nil {
		n := *r.PidsLimit
		out.PidsLimit = &n
	}
	if r.CPUShares != 0 {
		out.CPUShares = r.CPUShares
	}
	if r.CpusetCpus != "" {
		out.CpusetCpus = r.CpusetCpus
	}
	if r.CpusetMems != "" {
		out.CpusetMems = r.CpusetMems
	}
	if r.MemoryReservation != 0 {
		out.MemoryReservation = r.MemoryReservation
	}
	return out, nil
}

// updateLimits applies and keeps the merged limits (see ContainerUpdate).
// live.mu serializes it with renames, which rewrite config.json too, and
// with other updates.
func (d *Daemon) updateLimits(e *entry, r container.Resources) error {
	l := d.live
	l.mu.Lock()
	defer l.mu.Unlock()
	host := e.hostConfig()
	merged, err := mergeResources(e.id, host.Resources, r)
	if err != nil {
		return err
	}
	newLimits, err := resources(merged)
	if err == nil {
		err = hostResources(newLimits)
	}
	if err != nil {
		return err
	}
	var s runSpec
	if err := e.c.DecodeSpec(&s); err != nil {
		return err
	}
	oldLimits := s.Run.Limits
	// Devices are the create's: docker update does not change them.
	newLimits.Devices = oldLimits.Devices
	cg, err := cgroupOf(e)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cg = nil // not running: the next start's cgroup has them
	case err != nil:
		return fmt.Errorf("Cannot update container %s: %w", e.id, err)
	}
	if cg != nil {
		if err := cg.Update(newLimits); err != nil {
			return fmt.Errorf("Cannot update container %s: %w", e.id, err)
		}
	}
	undo := func(err error) error {
		if cg != nil {
			err = errors.Join(err, cg.Update(oldLimits))
		}
		return fmt.Errorf("Cannot update container %s: %w", e.id, err)
	}
	s.Run.Limits = newLimits
	spec, err := json.Marshal(s)
	if err != nil {
		return undo(err)
	}
	if err := e.c.SetSpec(spec); err != nil {
		return undo(err)
	}
	host.Resources = merged
	rec := *e.rec
	rec.HostConfig = host
	if err := rewriteRecord(e.c.Dir(), &rec); err != nil {
		return undo(err)
	}
	e.hostRes.Store(&merged)
	if cg == nil {
		// A start under way may have read the old spec before SetSpec
		// and made its cgroup since: give that cgroup the new limits
		// too. (A cgroup made after this look, from a spec read before
		// SetSpec, keeps the old ones until the next start: the shim
		// reads its spec once, and berthd does not lock its starts
		// against updates.)
		if now, err := cgroupOf(e); err == nil {
			if err := now.Update(newLimits); err != nil {
				return fmt.Errorf("Cannot update container %s: %w", e.id, err)
			}
		}
	}
	return nil
}

// hostConfig is the container's HostConfig as created, with the
// resources of its last update.
func (e *entry) hostConfig() container.HostConfig {
	var h container.HostConfig
	if e.rec != nil {
		h = e.rec.HostConfig
	}
	if r := e.hostRes.Load(); r != nil {
		h.Resources = *r
	}
	return h
}

// rewriteRecord replaces api.json after create (docker update): through
// a temporary file renamed over it, flushed first, so that a crash
// leaves the old record or the new, never half of one.
func rewriteRecord(dir string, rec *record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", recordFile, err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, recordFile), data, atomicfile.Options{Perm: 0o600, Durable: true})
}
