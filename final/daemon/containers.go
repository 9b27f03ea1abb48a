package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	apinet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/dns"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/filters"
)

// The container half of api.Backend: a container's life, from create
// (containers_create.go) to rm, on chapter 07's store and shims. Every
// method finds its container as Docker does (lookup), asks the shim's
// files for its state, and answers in the Engine API's types and
// Docker's words.

// ContainerStart starts a created or stopped container under a new shim
// (S22, S27). The start returns once the command runs; a command that
// cannot be executed is a failed start, whose message has the words from
// which the docker client makes its exit status (127, 126). A failed start
// of an --rm container removes it, as dockerd does: `docker run --rm`
// waits for the removal even then.
func (d *Daemon) ContainerStart(ctx context.Context, name string) error {
	e, err := d.lookup(name)
	if err != nil {
		return err
	}
	// A docker cp that has mounted the stopped container's root holds
	// its layer: the start waits for the copy (archive.go).
	e.cpMu.Lock()
	defer e.cpMu.Unlock()
	st, err := e.c.State()
	if err != nil {
		return err
	}
	if st.Status == shim.Running {
		if err := startPaused(e); err != nil {
			return err
		}
		return alreadyStarted()
	}
	// A restarting container runs, to docker start as to dockerd's.
	policy := d.restartOf(e)
	if policy.Status().Restarting() {
		return alreadyStarted()
	}
	if err := d.checkLinkTargets(e); err != nil { // links.go
		return err
	}
	// A user's start begins a new series: count 0, the stop forgotten.
	if err := policy.ManualStart(); err != nil {
		return err
	}
	d.live.beginStart(e)
	defer d.logExplained(e.c) // explain.go
	if _, err := d.spares.StartContainer(e.c); err != nil {
		d.live.startFailed(e)
		d.endpointsChanged(e) // what a query during the start registered
		d.emitFailedStart(e)
		d.live.endStart(e)
		if e.autoRemove() {
			_ = d.remove(e, true)
		}
		return startError(e, err)
	}
	d.live.started(e)
	d.endpointsChanged(e)
	d.emitStart(e)
	d.live.endStart(e)
	d.healthStart(e)
	return nil
}

// startError gives a failed start its kind: a command that cannot be
// run is the request's fault (400, as dockerd answers), anything else
// the engine's.
func startError(e *entry, err error) error {
	msg := err.Error()
	for _, words := range []string{"executable file not found", "no such file or directory", "permission denied", "is a directory"} {
		if strings.Contains(msg, words) {
			return giveKind(errdefs.ErrInvalidArgument, fmt.Errorf("failed to start container %s: %w", e.id, err))
		}
	}
	if errors.Is(err, shim.ErrRunning) {
		return errdefs.ErrNotModified.WithMessage("Container already started")
	}
	return fmt.Errorf("failed to start container %s: %w", e.id, err)
}

// ContainerStop stops a container (S28): its stop signal (the request's,
// the container's, or SIGTERM), then SIGKILL after the timeout (the
// request's, the container's, or 10 seconds; -1 waits for ever). It
// returns when the container has exited and its shim has cleaned up.
func (d *Daemon) ContainerStop(ctx context.Context, name string, timeout *int, signal string) error {
	e, err := d.lookup(name)
	if err != nil {
		return err
	}
	// No restart after this stop, until the next docker start; a
	// restart that was pending is simply dropped.
	restarting := e.restartPending()
	if (restarting || e.c.Running()) && d.stopRestarts(e) {
		return nil
	}
	if !e.c.Running() {
		return errdefs.ErrNotModified.WithMessage("Container already stopped")
	}
	if signal == "" && e.rec != nil {
		signal = e.rec.Config.StopSignal
	}
	if signal == "" {
		signal = "SIGTERM"
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return err
	}
	grace := 10 * time.Second
	if e.rec != nil && e.rec.Config.StopTimeout != nil {
		grace = time.Duration(*e.rec.Config.StopTimeout) * time.Second
	}
	if timeout != nil {
		grace = time.Duration(*timeout) * time.Second
	}
	// The health checks go on until the end of the run, as dockerd's
	// (see healthStop).
	run, _ := e.c.State()
	if _, err := d.stopContainer(e, sig, grace); err != nil && !errors.Is(err, shim.ErrNotRunning) {
		return fmt.Errorf("stopping container %s: %w", e.id, err)
	}
	d.live.look(e) // the die event, before the stop's
	// The run's health is final before the stop returns: an inspect
	// that follows sees it.
	d.healthStop(e, run.StartedAt, true)
	d.emitContainer(e, moby.ActionStop, nil)
	return nil
}

// ContainerRestart stops the container if it runs, and starts it. An
// --rm container is not removed by the stop, as with dockerd: only the
// end of the run that follows removes it (or a failed start).
func (d *Daemon) ContainerRestart(ctx context.Context, name string, timeout *int, signal string) error {
	e, err := d.lookup(name)
	if err != nil {
		return err
	}
	d.live.setRestarting(e, true)
	defer d.live.setRestarting(e, false)
	if err := d.ContainerStop(ctx, e.id, timeout, signal); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	if err := d.ContainerStart(ctx, e.id); err != nil {
		return err
	}
	d.emitContainer(e, moby.ActionRestart, nil)
	return nil
}

// ContainerKill sends a signal (SIGKILL by default) to the container's
// init (S28). Like dockerd, it waits for the end of the container after a
// SIGKILL: a `docker rm` that follows finds it stopped.
func (d *Daemon) ContainerKill(ctx context.Context, name string, signal string) error {
	e, err := d.lookup(name)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return err
	}
	// dockerd's kill: the user's stop is recorded whatever the signal;
	// one meant to end the container cancels its restarts too, and for
	// a restarting container that is all there is to do.
	if e.restartPending() || e.c.Running() {
		if !meantToEnd(e, sig) {
			_ = d.restartOf(e).MarkStopped()
		} else if d.stopRestarts(e) {
			return nil
		}
	}
	run, _ := e.c.State()
	if err := d.signalContainer(e, sig); err != nil {
		if errors.Is(err, shim.ErrNotRunning) {
			return notRunning(e)
		}
		return err
	}
	if sig == unix.SIGKILL {
		if _, err := e.c.Wait(10 * time.Second); err != nil {
			return err
		}
		d.live.look(e)
		d.healthStop(e, run.StartedAt, true) // as for a stop
	}
	return nil
}

// notRunning is the conflict of an action on a container that does not
// run (exec, top, pause...); dockerd says so differently for one that
// its restart policy is about to start.
func notRunning(e *entry) error {
	if e.restartPending() {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is restarting, wait until the container is running", e.id))
	}
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", e.id))
}

// parseSignal reads a signal as docker kill -s takes it (chapter 07's
// ParseSignal), with Docker's 400 for one it does not know.
func parseSignal(s string) (unix.Signal, error) {
	sig, err := shim.ParseSignal(s)
	if err != nil {
		return 0, invalid("%v", err)
	}
	return sig, nil
}

// ContainerRemove removes a container (S29): its record, its log, its
// writable layer and its lease on the image. A running container is
// refused unless force, which kills it first.
//
// With volumes (rm -v) the container's anonymous volumes go too; its
// named ones stay, as in Docker.
func (d *Daemon) ContainerRemove(ctx context.Context, name string, force, volumes bool) error {
	e, err := d.lookup(name)
	if err != nil {
		return err
	}
	if e.restartPending() {
		if !force {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot remove a restarting container %s. Stop the container before attempting removal or force remove", e.id))
		}
	}
	// No restart may start it under the removal (nor wait for the
	// locks below while one runs). A removal that will be refused
	// (running, without -f) leaves the policy alone.
	if m := e.policy.Load(); m != nil && (force || !e.c.Running()) {
		m.Cancel()
	}
	if !e.c.Running() {
		// Its die event before its destroy, even when the watch has
		// not seen the end yet (the restart policy is cancelled by
		// now: the end starts nothing).
		d.live.reportEnd(e)
	}
	e.cpMu.Lock() // a docker cp into the stopped container finishes first
	err = d.removeWith(e, force, volumes)
	e.cpMu.Unlock()
	return err
}

// remove removes e, once: a second removal (the daemon's of an --rm
// container, and the client's) finds it gone.
func (d *Daemon) remove(e *entry, force bool) error { return d.removeWith(e, force, false) }

// removeWith is remove, and with volumes (rm -v) the container's
// anonymous volumes go too, as they do for an --rm container.
func (d *Daemon) removeWith(e *entry, force, volumes bool) error {
	e.removeMu.Lock()
	defer e.removeMu.Unlock()
	l := d.live
	l.mu.Lock()
	if e.removed {
		l.mu.Unlock()
		return errdefs.ErrNotFound.WithMessage("No such container: " + e.id)
	}
	e.removing = true
	l.mu.Unlock()
	err := d.removeLocked(e, force)
	if err != nil {
		l.mu.Lock()
		e.removing = false
		l.mu.Unlock()
		return err
	}
	l.forget(e)
	// The container is gone, whatever fails below; its destroy event
	// goes last, after its volumes' (dockerd's order).
	defer d.emitContainer(e, moby.ActionDestroy, nil)
	if d.opts.Endpoints != nil {
		d.opts.Endpoints.SetEndpoints(e.id, nil)
	}
	// An image removed while in use (rmi -f) loses its layers with its
	// last container, and their chowned copies go then (userns_copies.go).
	if d.chowned {
		if err := d.sweepCopies(); err != nil {
			return err
		}
	}
	if e.autoRemove() || volumes {
		// --rm takes the anonymous volumes along, as Docker's does.
		return d.removeAnonymousVolumes(e.rec)
	}
	return nil
}

func (d *Daemon) removeLocked(e *entry, force bool) error {
	if e.c.Running() {
		if !force {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot remove a running container %s. Stop the container before attempting removal or force remove", e.id))
		}
		if err := d.signalContainer(e, unix.SIGKILL); err != nil && !errors.Is(err, shim.ErrNotRunning) {
			return err
		}
		if _, err := e.c.Wait(10 * time.Second); err != nil {
			return err
		}
		d.live.look(e) // the waiters learn the status before the removal
	}
	if !e.c.Running() {
		// The attached clients (docker run without -d, docker attach)
		// read the container's output from its log, which goes with
		// its directory. The run's final state ends their reading:
		// written here, then they have read the last line when they
		// are gone. Without the wait, a `run --rm` whose removal came
		// quicker than its client lost the container's output.
		_ = Runtime.Finish(e.c)
		d.live.waitAttached(e, attachedTimeout)
	}
	d.healthStop(e, time.Time{}, true) // its last write before the directory goes
	if err := Runtime.RemoveContainer(e.c, force); err != nil {
		if errors.Is(err, shim.ErrRunning) {
			return giveKind(errdefs.ErrConflict, err)
		}
		return fmt.Errorf("removing container %s: %w", e.id, err)
	}
	return nil
}

// ContainerResize sets the size of the container's terminal: the
// command gets SIGWINCH (docker run -it follows the window of the
// client's terminal this way).
func (d *Daemon) ContainerResize(ctx context.Context, name string, height, width uint) error {
	e, err := d.lookup(name)
	if err != nil {
		return err
	}
	err = e.c.Resize(uint16(min(height, 0xffff)), uint16(min(width, 0xffff)))
	switch {
	case errors.Is(err, shim.ErrNotRunning):
		return notRunning(e)
	case err != nil && (e.rec == nil || !e.rec.Config.Tty):
		return giveKind(errdefs.ErrInvalidArgument, err)
	case err != nil:
		return err
	}
	d.emitContainer(e, moby.ActionResize, map[string]string{"height": strconv.FormatUint(uint64(height), 10), "width": strconv.FormatUint(uint64(width), 10)})
	return nil
}

// apiState is the status word of the Engine API for a shim's state.
func apiState(st shim.State) container.ContainerState {
	switch st.Status {
	case shim.Running:
		return container.StateRunning
	case shim.Exited:
		return container.StateExited
	case shim.Dead:
		return container.StateDead
	}
	return container.StateCreated
}

// statusText is the STATUS column of docker ps.
func statusText(st shim.State) string {
	switch st.Status {
	case shim.Running:
		return "Up " + units.HumanDuration(time.Since(st.StartedAt))
	case shim.Exited:
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case shim.Dead:
		return "Dead"
	}
	return "Created"
}

// ContainerList lists containers as docker ps does: the running ones,
// or all; newest first; filtered by id, name, status, label, ancestor,
// exited, before, since, volume, network, health, publish, expose and
// is-task. It reads no file: each container's state comes from its view
// (containers_view.go), kept in memory.
func (d *Daemon) ContainerList(ctx context.Context, opts api.ListOptions) ([]container.Summary, error) {
	f, err := d.listFilter(opts.Filters)
	if err != nil {
		return nil, err
	}
	out := []container.Summary{}
	for _, e := range d.live.newestFirst() {
		// What the disk says of e, kept in memory (containers_view.go).
		v, ok := d.listView(e)
		if !ok {
			continue // removed meanwhile
		}
		// A restarting container is listed as running, as dockerd's.
		if !opts.All && len(opts.Filters["status"]) == 0 && v.st.Status != shim.Running && !e.restartPending() {
			continue
		}
		if !f.match(e, v) {
			continue
		}
		out = append(out, d.summary(e, v, opts.Size))
		if opts.Limit > 0 && len(out) == opts.Limit {
			break
		}
	}
	return out, nil
}

// listFilter is a parsed filters argument of docker ps (see package
// final/filters for how its values combine).
type listFilter struct {
	d             *Daemon
	args          filters.Args
	before, since time.Time
	ancestors     []string // image IDs
	networks      []string // the IDs of user networks, the names of built-in ones
	// ports: publish and expose, matched against the ports of ps's
	// PORTS column (a running container's).
	ports filters.Ports
	// noTasks: is-task=true. berth runs no swarm tasks: it lists none,
	// and is-task=false lists every container.
	noTasks bool
}

func (d *Daemon) listFilter(args filters.Args) (*listFilter, error) {
	if err := args.Check("containers", "id", "name", "label", "exited", "status", "ancestor", "before", "since", "volume", "network", "health",
		"publish", "expose", "is-task"); err != nil {
		return nil, err
	}
	for _, v := range args["health"] {
		if err := container.ValidateHealthStatus(container.HealthStatus(v)); err != nil {
			return nil, invalid("Unrecognised filter value for health: %s", v)
		}
	}
	lf := &listFilter{d: d, args: args}
	var err error
	if lf.ports, err = args.Ports(); err != nil {
		return nil, err
	}
	isTask, set, err := args.Bool("is-task")
	if err != nil {
		return nil, err
	}
	lf.noTasks = set && isTask
	for _, v := range args["status"] {
		if err := container.ValidateContainerState(container.ContainerState(v)); err != nil {
			return nil, invalid("invalid filter 'status=%s'", v)
		}
	}
	for _, v := range args["ancestor"] {
		if img, err := d.images.Get(v); err == nil {
			lf.ancestors = append(lf.ancestors, string(img.ID))
		}
	}
	for _, v := range args["network"] {
		if name, ok := isBuiltin(v); ok {
			lf.networks = append(lf.networks, name)
		} else if n, err := network.FindNetwork(d.opts.DataRoot, v); err == nil {
			lf.networks = append(lf.networks, n.ID)
		} // a network that does not exist has no containers
	}
	for _, key := range []string{"before", "since"} {
		for _, v := range args[key] {
			e, err := d.lookup(v)
			if err != nil {
				return nil, err
			}
			if key == "before" {
				lf.before = created(e.c)
			} else {
				lf.since = created(e.c)
			}
		}
	}
	return lf, nil
}

// match applies the filters: every key must match; the values of id,
// name, status, exited, ancestor, network and volume are alternatives,
// the labels must all be there.
func (lf *listFilter) match(e *entry, v *listView) bool {
	st := v.st
	if !lf.before.IsZero() && !created(e.c).Before(lf.before) {
		return false
	}
	if !lf.since.IsZero() && !created(e.c).After(lf.since) {
		return false
	}
	if lf.noTasks {
		return false
	}
	if !lf.ports.Match(v.ports) {
		return false
	}
	a := lf.args
	return a.Labels(e.labels()) &&
		a.Any("id", func(v string) bool { return strings.HasPrefix(e.id, v) }) &&
		a.Any("name", func(v string) bool {
			re, err := regexp.Compile(v)
			return (err == nil && re.MatchString(e.name.get())) || strings.Contains(e.name.get(), strings.TrimPrefix(v, "/"))
		}) &&
		a.Any("status", func(s string) bool {
			state, _, _ := viewState(e, v)
			return string(state) == s
		}) &&
		a.Any("health", func(h string) bool { return viewHealth(e, v) == h }) &&
		a.Any("exited", func(code string) bool { return st.Status == shim.Exited && strconv.Itoa(st.ExitCode) == code }) &&
		a.Any("ancestor", func(string) bool { return e.rec != nil && slices.Contains(lf.ancestors, e.rec.Image) }) &&
		a.Any("network", func(string) bool {
			return slices.ContainsFunc(v.netRefs, func(n string) bool { return slices.Contains(lf.networks, n) })
		}) &&
		a.Any("volume", func(vol string) bool {
			// A volume's name, or a mount's destination, as Docker.
			return e.rec != nil && slices.ContainsFunc(e.rec.Mounts, func(m container.MountPoint) bool {
				return m.Name == vol || m.Destination == vol
			})
		})
}

// summary is one line of docker ps.
func (d *Daemon) summary(e *entry, v *listView, size bool) container.Summary {
	state, status, _ := viewState(e, v)
	s := container.Summary{
		ID:      e.id,
		Names:   []string{"/" + e.name.get()},
		Image:   e.c.Config.Image,
		Command: strings.Join(e.c.Config.Command, " "),
		Created: created(e.c).Unix(),
		State:   state,
		Status:  status,
		Labels:  map[string]string{},
		Ports:   v.ports,
		Mounts:  []container.MountPoint{},
	}
	if e.rec != nil {
		s.ImageID = e.rec.Image
		s.Labels = e.rec.Config.Labels
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.HostConfig.NetworkMode = networkName(e.rec.HostConfig.NetworkMode)
		s.Mounts = mounts(e.rec)
	}
	s.NetworkSettings = &container.NetworkSettingsSummary{Networks: v.networks}
	if size {
		if rw, err := layer.Open(d.opts.DataRoot, e.id); err == nil {
			if n, err := layer.DiskUsage(rw.Upper()); err == nil {
				s.SizeRw = n
			}
		}
	}
	return s
}

// endpoint is the container's place on the bridge while it runs (chapter
// 05's record), or nil.
func (d *Daemon) endpoint(e *entry, st shim.State) *network.Endpoint {
	if st.Status != shim.Running {
		return nil
	}
	ep, err := network.Load(d.opts.DataRoot, e.id)
	if err != nil || ep.Mode != network.ModeBridge {
		return nil
	}
	return ep
}

// networkName is the network a mode stands for.
func networkName(m container.NetworkMode) string {
	switch m {
	case "", "default":
		return "bridge"
	}
	return string(m)
}

func parseMAC(s string) (apinet.HardwareAddr, error) {
	var mac apinet.HardwareAddr
	err := mac.UnmarshalText([]byte(s))
	return mac, err
}

// mounts lists the container's mounts, for inspect and ps: those its
// create recorded, or for a record older than volumes, its binds.
func mounts(rec *record) []container.MountPoint {
	if rec.Mounts != nil {
		return rec.Mounts
	}
	out := []container.MountPoint{}
	binds := rec.HostConfig.Binds
	for _, m := range rec.HostConfig.Mounts {
		b := m.Source + ":" + m.Target
		if m.ReadOnly {
			b += ":ro"
		}
		binds = append(binds, b)
	}
	for _, b := range binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 {
			continue
		}
		mode := ""
		if len(parts) > 2 {
			mode = parts[2]
		}
		out = append(out, container.MountPoint{
			Type:        mount.TypeBind,
			Source:      filepath.Clean(parts[0]),
			Destination: parts[1],
			Mode:        mode,
			RW:          mode != "ro",
			Propagation: mount.PropagationRPrivate,
		})
	}
	return out
}

// ContainerInspect describes a container as docker inspect shows it: the
// request it was created with (completed with the image's defaults), its
// state as the shim recorded it, and its network while it runs.
func (d *Daemon) ContainerInspect(ctx context.Context, name string) (container.InspectResponse, error) {
	e, err := d.lookup(name)
	if err != nil {
		return container.InspectResponse{}, err
	}
	st, err := e.c.State()
	if err != nil {
		return container.InspectResponse{}, err
	}
	// What inspect sees, docker ps shows from then on, even if the
	// shim's news is still on its way.
	e.sawState(st)
	rec := e.rec
	if rec == nil {
		rec = &record{Config: container.Config{Image: e.c.Config.Image, Cmd: e.c.Config.Command}}
		if len(e.c.Config.Command) > 0 {
			rec.Path, rec.Args = e.c.Config.Command[0], e.c.Config.Command[1:]
		}
	}
	cfg, host := rec.Config, e.hostConfig()
	host.Links = d.linksForInspect(e, e.legacyLinks()) // links.go
	pid := 0
	if st.Status == shim.Running {
		pid = st.Pid
	}
	ep := d.endpoint(e, st)
	ports := apinet.PortMap{}
	for p := range cfg.ExposedPorts {
		ports[p] = nil
	}
	if ep != nil {
		for _, m := range d.publishedPorts(e.id, ep) {
			p, ok := apinet.PortFrom(m.ContainerPort, apinet.IPProtocol(m.Protocol))
			if !ok {
				continue
			}
			ip := m.HostIP
			if !ip.IsValid() {
				ip = netip.IPv4Unspecified()
			}
			ports[p] = append(ports[p], apinet.PortBinding{HostIP: ip, HostPort: strconv.Itoa(int(m.HostPort))})
		}
	}
	l := d.live
	var execIDs []string
	l.mu.Lock()
	for id, x := range l.execs {
		if x.e == e {
			execIDs = append(execIDs, id)
		}
	}
	l.mu.Unlock()
	slices.Sort(execIDs)
	state, _, isPaused := containerState(e, st)
	// The policy as it is now (docker update changes it), and the
	// restarts since the last docker start.
	policy := d.restartOf(e)
	host.RestartPolicy = policy.Policy()
	restarting := state == container.StateRestarting
	info := container.InspectResponse{
		ID:      e.id,
		Created: api.FormatTime(created(e.c)),
		Path:    rec.Path,
		Args:    rec.Args,
		State: &container.State{
			Status:     state,
			Running:    st.Status == shim.Running || restarting,
			Paused:     isPaused,
			Restarting: restarting,
			OOMKilled:  st.OOMKilled,
			Dead:       st.Status == shim.Dead,
			Pid:        pid,
			ExitCode:   st.ExitCode,
			Health:     e.healthOf(),
			Error:      st.Error,
			StartedAt:  api.FormatTime(st.StartedAt),
			FinishedAt: api.FormatTime(st.FinishedAt),
		},
		Image:        rec.Image,
		LogPath:      e.c.LogPath(),
		Name:         "/" + e.name.get(),
		RestartCount: policy.Count(),
		Driver:       "overlay",
		Platform:     "linux",
		ExecIDs:      execIDs,
		HostConfig:   &host,
		Mounts:       mounts(rec),
		Config:       &cfg,
		NetworkSettings: &container.NetworkSettings{
			Ports:    ports,
			Networks: d.networkSettings(e, ep),
		},
	}
	if rw, err := layer.Open(d.opts.DataRoot, e.id); err == nil {
		info.HostnamePath, info.HostsPath, info.ResolvConfPath = dns.Paths(rw.Dir)
		info.GraphDriver = &storage.DriverData{Name: "overlay", Data: map[string]string{
			"LowerDir":  strings.Join(image.TopmostFirst(rw.Lower), ":"),
			"UpperDir":  rw.Upper(),
			"WorkDir":   rw.Work(),
			"MergedDir": rw.Merged(),
		}}
	}
	return info, nil
}

// ContainerTop lists the processes of a running container (S36). As
// dockerd does, it runs the host's ps with the client's arguments
// (default -ef) and keeps the lines of the container's processes, which
// chapter 07 finds by their PID namespace.
func (d *Daemon) ContainerTop(ctx context.Context, name string, psArgs string) (container.TopResponse, error) {
	e, err := d.lookup(name)
	if err != nil {
		return container.TopResponse{}, err
	}
	top, err := d.top(ctx, e, psArgs)
	if err == nil {
		d.emitContainer(e, moby.ActionTop, nil)
	}
	return top, err
}

func (d *Daemon) top(ctx context.Context, e *entry, psArgs string) (container.TopResponse, error) {
	procs, err := e.c.Top()
	if errors.Is(err, shim.ErrNotRunning) {
		return container.TopResponse{}, notRunning(e)
	}
	if err != nil {
		return container.TopResponse{}, err
	}
	pids := map[string]bool{}
	for _, p := range procs {
		pids[strconv.Itoa(p.PID)] = true
	}
	args := strings.Fields(psArgs)
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.CommandContext(ctx, "ps", args...).Output()
	if errors.Is(err, exec.ErrNotFound) {
		return topWithoutPs(procs), nil
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return container.TopResponse{}, invalid("ps %s: %s", strings.Join(args, " "), bytes.TrimSpace(exitErr.Stderr))
		}
		return container.TopResponse{}, err
	}
	return filterPs(out, pids)
}

// filterPs keeps the header of ps's output and the lines whose PID
// column names one of pids.
func filterPs(out []byte, pids map[string]bool) (container.TopResponse, error) {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	titles := strings.Fields(lines[0])
	col := slices.Index(titles, "PID")
	if col < 0 {
		return container.TopResponse{}, invalid("Couldn't find PID field in ps output")
	}
	top := container.TopResponse{Titles: titles, Processes: [][]string{}}
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= col || !pids[fields[col]] {
			continue
		}
		// The last column (the command) may hold spaces: keep it whole.
		if len(fields) > len(titles) {
			rest := line
			for range len(titles) - 1 {
				rest = strings.TrimLeft(rest, " \t")
				rest = rest[strings.IndexAny(rest, " \t"):]
			}
			fields = append(fields[:len(titles)-1], strings.TrimSpace(rest))
		}
		top.Processes = append(top.Processes, fields)
	}
	return top, nil
}

// topWithoutPs is top on a host without ps: chapter 07's own view.
func topWithoutPs(procs []shim.Process) container.TopResponse {
	top := container.TopResponse{Titles: []string{"UID", "PID", "PPID", "STAT", "CMD"}, Processes: [][]string{}}
	for _, p := range procs {
		top.Processes = append(top.Processes, []string{strconv.Itoa(p.UID), strconv.Itoa(p.PID), strconv.Itoa(p.PPID), p.Stat, p.Cmd})
	}
	return top
}

// The daemon is the API server's backend.
var _ api.Backend = (*Daemon)(nil)
