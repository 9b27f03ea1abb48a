package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"
	apinet "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/dns"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/logs"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/health"
	"github.com/berth-project/berth/final/restart"
)

// Creating a container (docker create, and the first step of docker
// run): the Engine API's request is checked and translated, once, into
// what the chapters' packages take, and the container is recorded:
//
//	<DataRoot>/containers/<id>/
//	  layer.json upper/ work/ merged/   chapter 04: the writable layer, empty
//	  image.json                        chapter 06: which image it was made from
//	  config.json state.json            chapter 07: name, command, Tty..., and runSpec
//	                                    (chapter 06's run options) for the shim
//	  api.json                          the request as docker inspect shows it
//	<DataRoot>/images/leases/<id>.json  chapter 06: the image is in use
//
// Nothing runs yet, and nothing exists outside the data root: no cgroup,
// no address, no port. Those are the start's (the shim's), and go at
// each exit. Every check that can be made here is made here, so that bad
// input (an unknown image, a duplicate name, an invalid port, a memory
// limit below the minimum) is one clear error and changes nothing.

// record is api.json: the request, completed with the image's defaults,
// as inspect returns it. It does not change after create.
type record struct {
	Config     container.Config     `json:"Config"`
	HostConfig container.HostConfig `json:"HostConfig"`
	Image      string               `json:"Image"`    // the image's ID, sha256:...
	ImageRef   string               `json:"ImageRef"` // as the client named it
	Path       string               `json:"Path"`
	Args       []string             `json:"Args"`
	// Mounts are the container's binds, volumes and tmpfs mounts as
	// inspect shows them (mounts.go).
	Mounts []container.MountPoint `json:"Mounts,omitempty"`

	// newVolumes are the volumes the create made, which go if it fails.
	newVolumes []string
	// warnings are the create's, as dockerd gives them (the docker CLI
	// prints each as WARNING: ...).
	warnings []string
}

const recordFile = "api.json"

// imageRecordFile is chapter 06's record of a container's image (see
// image.ContainerRecord): chapter 06 writes it at each start, the daemon
// already at create, so that commit, export and the image's container
// count know a container that never ran.
const imageRecordFile = "image.json"

func readRecord(c *shim.Container) (*record, error) {
	data, err := os.ReadFile(filepath.Join(c.Dir(), recordFile))
	if err != nil {
		return nil, err
	}
	r := &record{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("container %s: %s: %w", c.Name(), recordFile, err)
	}
	return r, nil
}

// validName is Docker's rule for container names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// maxNameLen bounds a container's name: each name is a file of the
// store (a longer one fails in the kernel, ENAMETOOLONG) and a DNS name
// on user networks.
const maxNameLen = 128

// invalid is a 400 with Docker's wording.
func invalid(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

// ContainerCreate creates a container from an image, as POST
// /containers/create does.
func (d *Daemon) ContainerCreate(ctx context.Context, name string, req container.CreateRequest) (container.CreateResponse, error) {
	if req.Config == nil {
		return container.CreateResponse{}, invalid("config cannot be empty in order to create a container")
	}
	name = strings.TrimPrefix(name, "/")
	if len(name) > maxNameLen {
		return container.CreateResponse{}, invalid("Invalid container name (%s...): longer than %d characters", name[:32], maxNameLen)
	}
	if name != "" && !validName.MatchString(name) {
		return container.CreateResponse{}, invalid("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	if name != "" {
		if err := d.nameTaken(name); err != nil {
			return container.CreateResponse{}, err
		}
	}
	img, err := d.images.Get(req.Config.Image)
	if errors.Is(err, image.ErrNotFound) || req.Config.Image == "" {
		return container.CreateResponse{}, noSuchImage(req.Config.Image)
	}
	if err != nil {
		return container.CreateResponse{}, giveKind(errdefs.ErrInvalidArgument, err)
	}
	dirs, err := d.images.LayerDirs(img.ID)
	if err != nil {
		return container.CreateResponse{}, err
	}
	if len(dirs) == 0 {
		return container.CreateResponse{}, invalid("image %s has no layers: nothing to run", req.Config.Image)
	}
	mode := ""
	if req.HostConfig != nil {
		mode = string(req.HostConfig.UsernsMode)
	}
	chowned := d.chownedFor(mode)
	if chowned {
		// --userns-remap without idmapped mounts (userns_copies.go).
		if dirs, err = d.chownedLayers(dirs); err != nil {
			return container.CreateResponse{}, err
		}
	}

	// A volume this create uses is not removed before the container
	// is listed (volumes.go).
	d.volumesMu.RLock()
	defer d.volumesMu.RUnlock()
	id := namespace.NewID()
	rec, spec, cfg, err := d.translate(id, req, img, dirs)
	if err != nil {
		return container.CreateResponse{}, err
	}
	// The container's networks are chapter 05's record, not the
	// shim's spec: connect and disconnect change them between starts.
	networks := spec.Run.Net.Networks
	spec.Run.Net.Networks = nil
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return container.CreateResponse{}, fmt.Errorf("encoding the container's spec: %w", err)
	}
	cfg.ID, cfg.Name, cfg.Spec = id, name, specJSON

	// Chapter 04's writable layer makes the container's directory; the
	// record of chapter 07's store goes into it (Create accepts a
	// directory another package made for it).
	// On top of the image, the mount points of the container's
	// /etc/hosts and friends (chapter 05), which are not its changes.
	mountPoints, err := dns.MountPointLayer(d.opts.DataRoot)
	if err == nil && chowned {
		mountPoints, err = d.chownedCopyOf(mountPoints)
	}
	if err != nil {
		return container.CreateResponse{}, err
	}
	rw, err := layer.Create(d.opts.DataRoot, id, append(slices.Clone(dirs), mountPoints))
	if err != nil {
		return container.CreateResponse{}, errors.Join(err, d.removeVolumes(rec.newVolumes))
	}
	undo := func(err error) (container.CreateResponse, error) {
		return container.CreateResponse{}, errors.Join(err, d.images.Release(id), rw.Remove(), d.removeVolumes(rec.newVolumes), network.ForgetAttachments(d.opts.DataRoot, id))
	}
	imgRec, err := json.Marshal(image.ContainerRecord{Image: img.ID, Ref: req.Config.Image, Command: spec.Args})
	if err == nil {
		err = os.WriteFile(filepath.Join(rw.Dir, imageRecordFile), imgRec, 0o644)
	}
	if err == nil {
		// An --rm container's records do not wait for the disk
		// (shim.Config.Ephemeral), nor does its lease.
		use := d.images.Use
		if rec.HostConfig.AutoRemove {
			use = d.images.UseEphemeral
		}
		err = use(id, img.ID, rw.Dir)
	}
	if err == nil {
		err = writeRecord(rw.Dir, rec)
	}
	if err == nil && spec.Run.Net.Recorded {
		err = network.SetAttachments(d.opts.DataRoot, id, networks)
	}
	if err != nil {
		return undo(err)
	}
	c, err := d.containers.Create(cfg)
	if errors.Is(err, shim.ErrNameInUse) {
		// Taken since the check above: by a create still under way,
		// perhaps, whose record cannot be read yet. A conflict all
		// the same.
		taken := d.nameTaken(name)
		if taken == nil {
			taken = errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by a container being created. You have to remove (or rename) that container to be able to reuse that name.", name))
		}
		return undo(taken)
	}
	if err != nil {
		return undo(err)
	}
	e, err := d.live.add(c)
	if err != nil {
		return container.CreateResponse{ID: id, Warnings: []string{err.Error()}}, nil
	}
	d.emitContainer(e, moby.ActionCreate, nil)
	return container.CreateResponse{ID: id, Warnings: append([]string{}, rec.warnings...)}, nil
}

// nameTaken is Docker's conflict error if name is taken.
func (d *Daemon) nameTaken(name string) error {
	other, err := d.containers.Get(name)
	if err != nil || other.Name() != name {
		return nil
	}
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, other.ID()))
}

// writeRecord writes api.json. It is written once, before the container
// exists in the store, so a plain write is atomic enough: a crash before
// the store's record leaves a directory nobody lists.
func writeRecord(dir string, rec *record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", recordFile, err)
	}
	return os.WriteFile(filepath.Join(dir, recordFile), data, 0o644)
}

// translate checks the request and turns it into the container's record
// (what inspect shows), the shim's spec and chapter 07's config.
func (d *Daemon) translate(id string, req container.CreateRequest, img image.Image, dirs []string) (*record, runSpec, shim.Config, error) {
	cfg := *req.Config
	var host container.HostConfig
	if req.HostConfig != nil {
		host = *req.HostConfig
	}
	fail := func(err error) (*record, runSpec, shim.Config, error) { return nil, runSpec{}, shim.Config{}, err }
	if d.remap != nil && host.Privileged && host.UsernsMode != "host" {
		// dockerd's words: a privileged container would be root over
		// devices and mounts that a remapped root does not own.
		return fail(invalid("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode"))
	}
	if err := checkUnsupported(&cfg, &host); err != nil {
		return fail(err)
	}
	if err := healthCheck(cfg.Healthcheck); err != nil {
		return fail(err)
	}
	// dockerd's rules and words (package final/restart).
	if err := restart.Validate(host.RestartPolicy, host.AutoRemove); err != nil {
		return fail(giveKind(errdefs.ErrInvalidArgument, err))
	}
	if err := d.checkRootless(&host); err != nil {
		return fail(err)
	}
	mergeImageConfig(&cfg, img.Config.Config)
	if cfg.StopSignal != "" {
		// Checked now: at stop it would be too late, the container
		// left running.
		if _, err := shim.ParseSignal(cfg.StopSignal); err != nil {
			return fail(invalid("Invalid signal: %s", cfg.StopSignal))
		}
	}
	args := append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
	if len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "" {
		args = slices.Clone(cfg.Cmd) // --entrypoint "": none at all
	}
	if len(args) == 0 {
		return fail(invalid("No command specified"))
	}
	if cfg.Hostname == "" {
		cfg.Hostname = namespace.ShortID(id)
	}
	if len(cfg.Hostname) > 64 {
		return fail(invalid("invalid hostname %q: longer than 64 characters", cfg.Hostname))
	}

	// The image as it is now, even if its tag moves: its layers. Its
	// configuration is merged into the request above, so the shim's
	// start needs nothing more of the store (see startContainer).
	var o image.RunOptions
	o.Layer.Image = dirs
	o.Config = namespace.Config{Hostname: cfg.Hostname, Init: host.Init != nil && *host.Init}
	d.userNS(&o.Config, string(host.UsernsMode))
	var err error
	if host.Memory == 0 && host.MemorySwap > 0 {
		return fail(invalid("You should always set the Memory limit when using Memoryswap limit, see usage"))
	}
	swapWarning := dockerSwap(&host.Resources)
	if s := host.MemorySwappiness; s != nil && *s == -1 {
		host.MemorySwappiness = nil // the docker CLI's "not given": inspect shows null, as dockerd's
	}
	if p := host.PidsLimit; p != nil && *p <= 0 {
		host.PidsLimit = nil // unlimited, as dockerd records it
	}
	if o.Limits, err = resources(host.Resources); err != nil {
		return fail(err)
	}
	if err := hostResources(o.Limits); err != nil {
		return fail(err)
	}
	if o.CgroupParent, err = d.cgroupParent(host.Resources.CgroupParent); err != nil {
		return fail(err)
	}
	o.NoCgroup = d.opts.Rootless // rootless.go
	if err := processOptions(&o, &host, d.opts.Rootless); err != nil {
		return fail(err)
	}
	if o.FS, err = filesystem(&cfg, &host); err != nil {
		return fail(err)
	}
	// An --rm container's layer goes at its exit: mounted volatile,
	// its end waits for no disk (chapter 04).
	o.Layer.Root, o.Layer.Persist, o.Layer.Volatile = d.opts.DataRoot, true, host.AutoRemove
	o.Layer.Chowned = d.chownedFor(string(host.UsernsMode))
	if o.Net, err = d.networkConfig(&cfg, &host, req.NetworkingConfig); err != nil {
		return fail(err)
	}
	if err := d.links(&host, &o.Net); err != nil {
		return fail(err)
	}
	if o.DNS, err = nameConfig(&cfg, &host); err != nil {
		return fail(err)
	}
	spec := runSpec{Args: args}
	if err := d.rootlessPorts(&o.Net, &spec); err != nil {
		return fail(err)
	}
	if host.NetworkMode.IsContainer() {
		if spec.NetContainer, err = d.netContainer(host.NetworkMode.ConnectedContainer(), id); err != nil {
			return fail(err)
		}
	}
	if err := d.pidAndIpc(&host, &o, &spec, id); err != nil {
		return fail(err)
	}
	if spec.UID, spec.GID, err = image.LookupUser(image.TopmostFirst(dirs), cfg.User); err != nil {
		return fail(invalid("%v", err))
	}
	if spec.Groups, err = image.Groups(image.TopmostFirst(dirs), cfg.User, spec.GID, host.GroupAdd); err != nil {
		return fail(invalid("%v", err))
	}
	if spec.Capabilities, err = capabilities(host.CapAdd, host.CapDrop); err != nil {
		return fail(err)
	}
	if spec.NoNewPrivileges, err = securityOpts(host.SecurityOpt); err != nil {
		return fail(err)
	}
	if o.FS.Seccomp, err = seccompProfile(host.SecurityOpt, d.opts.SeccompProfile); err != nil {
		return fail(err)
	}
	plan, err := d.planMounts(&cfg, &host)
	if err != nil {
		return fail(err)
	}

	sc := shim.Config{
		Image:       cfg.Image,
		Command:     args,
		Interactive: cfg.OpenStdin,
		Tty:         cfg.Tty,
		Ephemeral:   host.AutoRemove,
		Explain:     d.explains(cfg.Labels), // explain.go
	}
	if cfg.Tty && host.ConsoleSize[0] > 0 && host.ConsoleSize[1] > 0 {
		sc.ConsoleSize = [2]uint16{uint16(min(host.ConsoleSize[0], math.MaxUint16)), uint16(min(host.ConsoleSize[1], math.MaxUint16))}
	}
	if sc.Log, err = logOptions(host.LogConfig); err != nil {
		return fail(err)
	}
	rec := &record{Config: cfg, HostConfig: host, Image: string(img.ID), ImageRef: req.Config.Image, Path: args[0], Args: args[1:]}
	if swapWarning != "" {
		rec.warnings = append(rec.warnings, swapWarning)
	}
	if o.Limits.OOMKillDisable && o.Limits.Memory == 0 {
		rec.warnings = append(rec.warnings, "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.")
	}
	// Last, when nothing can fail any more: volumes are made.
	if rec.newVolumes, err = d.createVolumes(plan); err != nil {
		return fail(errors.Join(err, d.removeVolumes(rec.newVolumes)))
	}
	rec.Mounts = plan.points()
	o.FS.Volumes = plan.volumes()
	spec.Run = o
	return rec, spec, sc, nil
}

// mergeImageConfig completes cfg with the image's defaults, as dockerd
// does: the image's command only if the request sets neither an
// entrypoint nor a command (an --entrypoint replaces the image's
// entrypoint and its Cmd), its environment under the request's, its
// working directory, user, labels, exposed ports and stop signal where
// the request has none.
func mergeImageConfig(cfg *container.Config, im image.ContainerConfig) {
	if len(cfg.Entrypoint) == 0 {
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = slices.Clone(im.Cmd)
		}
		if cfg.Entrypoint == nil {
			cfg.Entrypoint = slices.Clone(im.Entrypoint)
		}
	}
	if env, err := rootfs.MergeEnv(im.Env, withValues(cfg.Env)); err == nil {
		cfg.Env = env
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = im.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = im.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = im.StopSignal
	}
	// The image's HEALTHCHECK under the request's --health-* field by
	// field (health.Merge); one that cannot be read is left out.
	var imgHealth *container.HealthConfig
	if len(im.Healthcheck) > 0 && json.Unmarshal(im.Healthcheck, &imgHealth) != nil {
		imgHealth = nil
	}
	cfg.Healthcheck = health.Merge(cfg.Healthcheck, imgHealth)
	for k, v := range im.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	for v := range im.Volumes { // the image's VOLUME lines: anonymous volumes
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	for p := range im.ExposedPorts {
		port, err := apinet.ParsePort(p)
		if err != nil {
			continue
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = apinet.PortSet{}
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
}

// withValues keeps the KEY=VALUE entries of env. The docker client sends
// "-e KEY" as "KEY" when its own environment has no KEY; on the daemon's
// side that would copy the daemon's variable into the container, so it
// is dropped.
func withValues(env []string) []string {
	var out []string
	for _, e := range env {
		if k, _, ok := strings.Cut(e, "="); ok && k != "" {
			out = append(out, e)
		}
	}
	return out
}

// resources turns the API's limits into chapter 02's, with Docker's
// checks and words.
func resources(r container.Resources) (cgroup.Resources, error) {
	var out cgroup.Resources
	if r.Memory < 0 {
		return out, invalid("invalid memory limit %d: must not be negative", r.Memory)
	}
	if r.Memory > 0 && r.Memory < cgroup.MinMemory {
		return out, invalid("Minimum memory limit allowed is 6MB")
	}
	out.Memory = r.Memory
	if err := swapResources(r, &out); err != nil {
		return out, err
	}
	switch {
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return out, invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return out, invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case r.CPUPeriod != 0 && (r.CPUPeriod < cgroup.MinCPUPeriod || r.CPUPeriod > cgroup.MaxCPUPeriod):
		return out, invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case r.CPUQuota > 0 && r.CPUQuota < 1000:
		return out, invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	out.CPUPeriod = uint64(max(r.CPUPeriod, 0))
	cpus := float64(r.NanoCPUs) / 1e9
	if r.NanoCPUs == 0 && r.CPUQuota > 0 {
		cpus = float64(r.CPUQuota) / float64(cmp.Or(r.CPUPeriod, cgroup.CPUPeriod))
	}
	if cpus != 0 {
		if _, err := cgroup.ParseCPUs(strconv.FormatFloat(cpus, 'f', -1, 64)); err != nil || cpus < 0 {
			n := runtime.NumCPU()
			return out, invalid("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
		}
	}
	out.CPUs = cpus
	// The weights (chapter 02): dockerd's words where it checks at
	// create. Shares out of runc's range dockerd takes, and the start
	// fails; berth refuses them now, in runc's words.
	switch {
	case r.CPUShares < 0 || (r.CPUShares > 0 && r.CPUShares < cgroup.MinCPUShares):
		return out, invalid("--cpu-shares %d: the minimum allowed cpu-shares is %d", r.CPUShares, cgroup.MinCPUShares)
	case r.CPUShares > cgroup.MaxCPUShares:
		return out, invalid("--cpu-shares %d: the maximum allowed cpu-shares is %d", r.CPUShares, cgroup.MaxCPUShares)
	}
	out.CPUShares = uint64(r.CPUShares)
	if _, err := cgroup.ParseSet(r.CpusetCpus); err != nil {
		return out, invalid("Invalid value %s for cpuset cpus: %v", r.CpusetCpus, err)
	}
	if _, err := cgroup.ParseSet(r.CpusetMems); err != nil {
		return out, invalid("Invalid value %s for cpuset mems: %v", r.CpusetMems, err)
	}
	out.CpusetCpus, out.CpusetMems = r.CpusetCpus, r.CpusetMems
	switch {
	case r.MemoryReservation < 0:
		return out, invalid("invalid memory reservation %d: must not be negative", r.MemoryReservation)
	case r.MemoryReservation > 0 && r.MemoryReservation < cgroup.MinMemory:
		return out, invalid("Minimum memory reservation allowed is 6MB")
	case r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation:
		return out, invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	out.MemoryReservation = r.MemoryReservation
	out.OOMKillDisable = r.OomKillDisable != nil && *r.OomKillDisable
	if r.PidsLimit != nil && *r.PidsLimit > 0 {
		out.PidsMax = *r.PidsLimit
	}
	for _, rule := range r.DeviceCgroupRules {
		if err := out.AddDeviceRule(rule); err != nil {
			return out, invalid("invalid device cgroup rule format: '%s'", rule)
		}
	}
	if err := realtimeResources(r, &out); err != nil {
		return out, err
	}
	if err := blkioResources(r, &out); err != nil {
		return out, err
	}
	return out, nil
}

// pidAndIpc reads --pid and --ipc (shm.go): the host's namespaces,
// another container's (resolved now to its ID, which inspect shows, as
// dockerd's does), or the container's own; "shareable" has its /dev/shm
// on the host for others to join. The private IPC mode is recorded as
// dockerd 20.10 records its default, "private".
func (d *Daemon) pidAndIpc(h *container.HostConfig, o *image.RunOptions, spec *runSpec, self string) error {
	shared := h.PidMode.IsHost() || h.PidMode.IsContainer() || h.IpcMode.IsHost() || h.IpcMode.IsContainer()
	if shared && (o.Config.UserNS || d.opts.Rootless) {
		return invalid("--pid %s and --ipc %s: another container's or the host's PID and IPC namespaces cannot be shared from a user namespace (--userns-remap, or a rootless daemon)", h.PidMode, h.IpcMode)
	}
	donor := func(ref string) (string, error) {
		e, err := d.lookup(ref)
		if err != nil {
			return "", invalid("No such container: %s", ref)
		}
		if e.id == self {
			return "", invalid("cannot join own namespaces")
		}
		return e.id, nil
	}
	switch {
	case h.PidMode.IsHost():
		o.Config.HostPID = true
	case h.PidMode.IsContainer():
		id, err := donor(h.PidMode.Container())
		if err != nil {
			return err
		}
		spec.PidContainer, h.PidMode = id, container.PidMode("container:"+id)
	}
	switch {
	case h.IpcMode == "":
		h.IpcMode = container.IPCModePrivate
	case h.IpcMode.IsHost():
		o.Config.HostIPC, spec.HostShm = true, true
	case h.IpcMode.IsShareable():
		spec.ShareShm = true
	case h.IpcMode.IsContainer():
		id, err := donor(h.IpcMode.Container())
		if err != nil {
			return err
		}
		spec.IpcContainer, h.IpcMode = id, container.IpcMode("container:"+id)
	}
	return nil
}

// hostResources checks what of r depends on this machine's cgroups, as
// dockerd does at create: the CPUs and memory nodes of a cpuset must
// exist, and the OOM killer can be disabled on v1 only (dockerd 20.10
// drops --oom-kill-disable on v2 with a warning and runs without it;
// berth refuses it by name). Asked only when r asks for one of them.
func hostResources(r cgroup.Resources) error {
	if r.CpusetCpus == "" && r.CpusetMems == "" && !r.OOMKillDisable && !lessCommon(r) {
		return nil
	}
	h, err := cgroup.System()
	if err != nil {
		return err
	}
	if r.OOMKillDisable && h.Version == cgroup.V2 {
		return invalid("--oom-kill-disable is not supported on this host: %v", cgroup.ErrNoOOMKillDisable)
	}
	if err := hostLessCommon(h, r); err != nil {
		return err
	}
	if r.CpusetCpus == "" && r.CpusetMems == "" {
		return nil
	}
	cpus, mems, err := h.Available()
	if err != nil {
		return invalid("--cpuset-cpus and --cpuset-mems: %v", err)
	}
	for _, c := range []struct{ asked, have, what string }{
		{r.CpusetCpus, cpus, "Requested CPUs are not available - requested %s, available: %s"},
		{r.CpusetMems, mems, "Requested memory nodes are not available - requested %s, available: %s"},
	} {
		if ok, err := cgroup.Within(c.asked, c.have); err != nil || !ok {
			return invalid(c.what, c.asked, c.have)
		}
	}
	return nil
}

// devices are the host devices of --device, read now: a node that is
// missing, or no device, is the request's fault, reported at create.
func devices(ms []container.DeviceMapping) ([]rootfs.Device, error) {
	var out []rootfs.Device
	for _, m := range ms {
		d, err := rootfs.DeviceFromHost(m.PathOnHost, m.PathInContainer, m.CgroupPermissions)
		if err != nil {
			return nil, invalid("%v", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// processOptions are the options that act on the container's
// namespaces and on each of its processes rather than on a chapter's
// object: the cgroup namespace and the sysctls (chapter 01), the
// rlimits and the OOM score (chapter 02). Each is checked now, so that
// a bad one is a 400 at create rather than a failed start.
func processOptions(o *image.RunOptions, h *container.HostConfig, rootless bool) error {
	switch h.CgroupnsMode {
	case "", "private":
	case "host":
		o.Config.HostCgroupns = true
	default:
		return invalid("invalid cgroup namespace mode: %s", h.CgroupnsMode)
	}
	keys := make([]string, 0, len(h.Sysctls))
	for k := range h.Sysctls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := namespace.CheckSysctl(k, h.NetworkMode.IsHost()); err != nil {
			return invalid("%v", err)
		}
	}
	o.Config.Sysctls = withNetworkSysctls(h.Sysctls, h.NetworkMode, o.Config.UserNS || rootless)
	if err := cgroup.CheckOOMScoreAdj(h.OomScoreAdj); err != nil {
		return invalid("%v", err)
	}
	o.OOMScoreAdj = h.OomScoreAdj
	o.Ulimits = nil
	for _, u := range h.Ulimits {
		if u == nil {
			continue
		}
		o.Ulimits = append(o.Ulimits, cgroup.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	if _, err := cgroup.Rlimits(o.Ulimits); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// networkSysctls are what Docker (since 20.10) sets in a container's own
// network namespace: any user there may bind a port below 1024 and ping
// with an ICMP socket, with neither CAP_NET_BIND_SERVICE nor
// CAP_NET_RAW. The namespace is the container's alone, so this opens
// nothing of the host's, and a container that drops both capabilities
// still serves port 80 as it does under Docker.
var networkSysctls = map[string]string{
	"net.ipv4.ip_unprivileged_port_start": "0",
	"net.ipv4.ping_group_range":           "0 2147483647",
}

// withNetworkSysctls adds networkSysctls to the user's --sysctl values,
// which win, for a container with a network namespace of its own: not
// the host's (--network host), not another container's (those are its
// owner's to set). In a user namespace (--userns-remap, or a rootless
// daemon's) the group range
// is left out, as dockerd leaves it: the kernel takes only groups mapped
// in the writer's namespace, and 2147483647 is not
// (TestUsernsRemapSameAsDockerd prints both sysctls).
func withNetworkSysctls(user map[string]string, mode container.NetworkMode, userns bool) map[string]string {
	if mode.IsHost() || mode.IsContainer() {
		return user
	}
	out := maps.Clone(networkSysctls)
	if userns {
		delete(out, "net.ipv4.ping_group_range")
	}
	maps.Copy(out, user)
	return out
}

// filesystem is chapter 03's part: the user's environment (chapter 06
// puts the image's under it), working directory, the size of /dev/shm
// a read-only root and the --device nodes. The volumes are planMounts's.
func filesystem(cfg *container.Config, h *container.HostConfig) (rootfs.Options, error) {
	var o rootfs.Options
	o.Env = withValues(cfg.Env)
	if cfg.Tty && !slices.ContainsFunc(o.Env, func(e string) bool { return strings.HasPrefix(e, "TERM=") }) {
		o.Env = append(o.Env, "TERM=xterm") // as Docker does for a terminal
	}
	if _, err := rootfs.ParseEnv(o.Env, nil); err != nil {
		return o, invalid("%v", err)
	}
	o.Workdir = cfg.WorkingDir
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return o, invalid("the working directory '%s' is invalid, it needs to be an absolute path", o.Workdir)
	}
	o.ReadonlyRootfs = h.ReadonlyRootfs
	// --privileged: chapter 03 turns its confinement off (every
	// capability and device, no masked or read-only paths).
	o.Privileged = h.Privileged
	if h.ShmSize < 0 {
		return o, invalid("SHM size can not be less than 0")
	}
	if h.ShmSize == 0 {
		h.ShmSize = rootfs.DefaultShmSize // what inspect shows, as Docker
	}
	o.ShmSize = h.ShmSize
	var err error
	o.Devices, err = devices(h.Devices)
	return o, err
}

// networkConfig is chapter 05's part: the mode, the daemon's bridge, the
// networks (in Networks, for ContainerCreate to record: see
// network.Config.Recorded), and the published ports.
func (d *Daemon) networkConfig(cfg *container.Config, h *container.HostConfig, nc *apinet.NetworkingConfig) (network.Config, error) {
	n, err := d.defaultNet()
	if err != nil {
		return n, err
	}
	switch mode := h.NetworkMode; {
	case mode == "host" || mode == "none":
		n.Mode = network.Mode(mode)
	case mode.IsContainer():
		n.Mode = network.ModeNone // no network of its own: see runSpec.NetContainer
	case cfg.NetworkDisabled:
		n.Mode = network.ModeNone
	default:
		n.Mode, n.Recorded = network.ModeBridge, true
		if n.Networks, err = d.containerNetworks(mode, nc); err != nil {
			return n, err
		}
	}
	if n.Mode != network.ModeBridge && nc != nil {
		for name := range nc.EndpointsConfig {
			if name != string(n.Mode) {
				return n, invalid("container cannot be connected to network %s with network mode %s", name, n.Mode)
			}
		}
	}
	ports := make([]apinet.Port, 0, len(h.PortBindings))
	for p := range h.PortBindings {
		ports = append(ports, p)
	}
	if h.PublishAllPorts {
		for p := range cfg.ExposedPorts {
			if _, ok := h.PortBindings[p]; !ok {
				ports = append(ports, p)
			}
		}
	}
	slices.SortFunc(ports, func(a, b apinet.Port) int { return int(a.Num()) - int(b.Num()) })
	for _, p := range ports {
		bindings := h.PortBindings[p]
		if len(bindings) == 0 {
			bindings = []apinet.PortBinding{{}} // -P, or "80/tcp": [] : any free port
		}
		for _, b := range bindings {
			m, err := portMapping(p, b)
			if err != nil {
				return n, err
			}
			n.Publish = append(n.Publish, m)
		}
	}
	if len(n.Publish) > 0 && n.Mode != network.ModeBridge {
		return n, invalid("conflicting options: port publishing and the container type network mode %q", n.Mode)
	}
	if err := n.Validate(); err != nil {
		return n, invalid("%v", err)
	}
	return n, nil
}

// portMapping is one published port, from the API's binding.
func portMapping(p apinet.Port, b apinet.PortBinding) (network.PortMapping, error) {
	m := network.PortMapping{ContainerPort: p.Num(), Protocol: string(p.Proto())}
	if m.Protocol != "tcp" && m.Protocol != "udp" {
		return m, invalid("invalid port %s: only tcp and udp ports can be published", p)
	}
	// No address, 0.0.0.0 or ::, is every address: chapter 05's zero.
	if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
		if !b.HostIP.Is4() {
			return m, invalid("invalid host IP %s for port %s: only IPv4 addresses are supported", b.HostIP, p)
		}
		m.HostIP = b.HostIP
	}
	if b.HostPort != "" {
		n, err := strconv.ParseUint(b.HostPort, 10, 16)
		if err != nil {
			return m, invalid("invalid port specification: %q", b.HostPort)
		}
		m.HostPort = uint16(n)
	}
	return m, nil
}

// capabilities applies --cap-add and --cap-drop to Docker's default set.
// "ALL" adds or drops them all. nil is the default set.
func capabilities(add, drop []string) ([]string, error) {
	if len(add) == 0 && len(drop) == 0 {
		return nil, nil
	}
	set := map[string]bool{}
	for _, c := range rootfs.DefaultCapabilities {
		set[c] = true
	}
	all := func(on bool) {
		for n := 0; rootfs.CapabilityName(n) != ""; n++ {
			set[rootfs.CapabilityName(n)] = on
		}
	}
	norm := func(name string) (string, error) {
		n, err := rootfs.ParseCapability(name)
		if err != nil {
			return "", invalid("invalid capability: %s", name)
		}
		return rootfs.CapabilityName(n), nil
	}
	for _, c := range drop {
		if strings.EqualFold(c, "ALL") {
			all(false)
			continue
		}
		name, err := norm(c)
		if err != nil {
			return nil, err
		}
		set[name] = false
	}
	for _, c := range add {
		if strings.EqualFold(c, "ALL") {
			all(true)
			continue
		}
		name, err := norm(c)
		if err != nil {
			return nil, err
		}
		set[name] = true
	}
	out := []string{}
	for c, on := range set {
		if on {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

// securityOpts reads --security-opt: no-new-privileges is supported;
// seccomp= is seccompProfile's; "apparmor=unconfined" asks for what
// berth does anyway (it has no AppArmor); so does "label=disable" where
// the kernel has no SELinux (selinuxEnabled); anything else is refused.
func securityOpts(opts []string) (noNewPrivs bool, err error) {
	for _, o := range opts {
		key, value, hasValue := strings.Cut(o, "=")
		if !hasValue {
			key, value, hasValue = strings.Cut(o, ":")
		}
		switch key {
		case "no-new-privileges":
			if !hasValue {
				noNewPrivs = true
				continue
			}
			b, perr := strconv.ParseBool(value)
			if perr != nil {
				return false, invalid("invalid --security-opt: %q", o)
			}
			noNewPrivs = b
		case "seccomp":
			// seccompProfile's.
		case "apparmor":
			if value != "unconfined" {
				return false, invalid("--security-opt %s: berth does not load AppArmor profiles (and this kernel has no AppArmor)", o)
			}
		case "label":
			// SELinux labels: with no SELinux in the kernel there is
			// nothing to label, and so nothing to disable.
			if value != "disable" || selinuxEnabled() {
				return false, invalid("--security-opt %s: berth does not apply SELinux labels", o)
			}
		default:
			return false, invalid("invalid --security-opt: %q (berth supports no-new-privileges, seccomp=, apparmor=unconfined and label=disable)", o)
		}
	}
	return noNewPrivs, nil
}

// selinuxEnabled reports whether the kernel runs SELinux: it then
// mounts selinuxfs, which this checks for.
func selinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// seccompProfile is the container's seccomp profile: --security-opt
// seccomp=unconfined, =builtin or =JSON (the docker CLI sends the
// profile's content, and inspect shows it so), else the daemon's.
func seccompProfile(opts []string, daemonDefault seccomp.Profile) (seccomp.Profile, error) {
	p := daemonDefault
	for _, o := range opts {
		value, ok := strings.CutPrefix(o, "seccomp=")
		if !ok {
			value, ok = strings.CutPrefix(o, "seccomp:")
		}
		if !ok {
			continue
		}
		var err error
		if p, err = seccomp.ParseOption(value); err != nil {
			return p, invalid("--security-opt seccomp: %v", err)
		}
	}
	return p, nil
}

// logOptions reads --log-driver and --log-opt: berth's log is chapter
// 07's, with the json-file driver's max-size and max-file. Every other
// key is refused by name, never dropped: a key json-file knows but berth
// does not apply (compress=true, tag, labels, env...) says so; a key
// json-file does not know gets dockerd's words. A value that asks for
// what berth does anyway (compress=false, mode=blocking) passes.
func logOptions(c container.LogConfig) (logs.Options, error) {
	var o logs.Options
	switch c.Type {
	case "", "json-file", "local", "k8s-file":
	default:
		return o, invalid("logging driver %q is not supported: berth writes its own log (max-size and max-file apply)", c.Type)
	}
	driver := c.Type
	if driver == "" {
		driver = "json-file"
	}
	for _, key := range slices.Sorted(maps.Keys(c.Config)) {
		v := c.Config[key]
		switch key {
		case "max-size", "max-file":
			if err := o.Set(key + "=" + v); err != nil {
				return o, invalid("%v", err)
			}
		case "compress":
			if b, err := strconv.ParseBool(v); err != nil || b {
				return o, invalid("log option compress=%s is not supported: berth does not compress rotated logs (max-size and max-file apply)", v)
			}
		case "mode":
			if v != "" && v != "blocking" {
				return o, invalid("log option mode=%s is not supported: berth's log is written as the container writes (blocking)", v)
			}
		case "max-buffer-size", "labels", "labels-regex", "env", "env-regex", "tag":
			return o, invalid("log option %s is not supported: berth's log applies max-size and max-file", key)
		default:
			return o, invalid("unknown log opt '%s' for %s log driver", key, driver)
		}
	}
	if err := o.Validate(); err != nil {
		return o, invalid("%v", err)
	}
	return o, nil
}

// created is when c was created, for ps and inspect.
func created(c *shim.Container) time.Time { return c.Config.Created }
