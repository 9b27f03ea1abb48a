package daemon

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"

	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/events"
)

// The daemon's events (docker events): each handler reports what it did,
// with the actor and attributes dockerd 20.10 gives the same action, to
// the bus of final/events, which keeps the last ones and hands them to
// the clients listening. Events are emitted after the fact succeeded,
// never for a refused request, as dockerd.
//
//	container  create start attach resize kill die oom stop restart destroy
//	           pause unpause rename update top commit export
//	           archive-path extract-to-dir exec_create exec_start exec_die
//	image      tag untag delete import load save
//	network    create connect disconnect destroy
//	volume     create mount unmount destroy
//
// A container that exits while no daemon runs gets no die event when the
// next daemon finds it exited: dockerd's restore does not emit one either
// (the bus is memory only, and the time would be the daemon's start, not
// the exit's).

// Events answers GET /events (final/events says how since, until and the
// filter are read).
func (d *Daemon) Events(ctx context.Context, since, until time.Time, f *events.Filter) (*events.Subscription, error) {
	return d.events.Subscribe(since, until, f), nil
}

// emit publishes an event of typ about the object id, with attrs (which
// it keeps: pass a map of the caller's own). This is the one way the
// daemon's code reports events; the helpers below add each type's
// attributes.
func (d *Daemon) emit(typ moby.Type, action moby.Action, id string, attrs map[string]string) {
	d.events.Log(typ, action, id, attrs)
}

// Pruned reports a prune of objects of typ that freed reclaimed bytes:
// dockerd's "prune" event, about no object in particular (an empty
// actor ID). The API server calls it for the prunes it carries out
// itself (network prune).
func (d *Daemon) Pruned(typ moby.Type, reclaimed uint64) {
	d.emit(typ, moby.ActionPrune, "", map[string]string{"reclaimed": strconv.FormatUint(reclaimed, 10)})
}

// emitContainer reports action on container e. Like dockerd, every
// container event carries the container's labels, its image as the
// client named it and its name, besides the action's own attributes
// (extra, which may be nil).
func (d *Daemon) emitContainer(e *entry, action moby.Action, extra map[string]string) {
	attrs := map[string]string{}
	if e.rec != nil {
		maps.Copy(attrs, e.rec.Config.Labels)
		if img := e.rec.Config.Image; img != "" {
			attrs["image"] = img
		} else if e.rec.ImageRef != "" {
			attrs["image"] = e.rec.ImageRef
		}
	}
	maps.Copy(attrs, extra)
	attrs["name"] = e.name.get()
	d.emit(moby.ContainerEventType, action, e.id, attrs)
}

// emitContainerRef reports action on the container ref names, if it is
// one of the daemon's (commit and export also take the build's
// intermediate containers, which have no events).
func (d *Daemon) emitContainerRef(ref string, action moby.Action, extra map[string]string) {
	if e, err := d.lookup(ref); err == nil {
		d.emitContainer(e, action, extra)
	}
}

// emitExec reports an exec's event: dockerd appends the command to the
// create and start actions ("exec_start: sh -c true"), which is why the
// event filter matches those by prefix. It writes the program, a space,
// and the arguments: a command without arguments ends with the space
// ("exec_start: sh "), which scripts matching the whole action expect.
func (d *Daemon) emitExec(e *entry, action moby.Action, execID string, cmd []string, extra map[string]string) {
	if (action == moby.ActionExecCreate || action == moby.ActionExecStart) && len(cmd) > 0 {
		action = moby.Action(string(action) + ": " + cmd[0] + " " + strings.Join(cmd[1:], " "))
	}
	attrs := map[string]string{"execID": execID}
	maps.Copy(attrs, extra)
	d.emitContainer(e, action, attrs)
}

// emitImage reports action on the image id ("sha256:..."), named name
// (a reference, or the ID itself as dockerd's untag, delete, load, save
// and import have it), with the image's labels, which dockerd copies
// into every image event while the image exists.
func (d *Daemon) emitImage(id, name string, action moby.Action) {
	var labels map[string]string
	if img, err := d.images.Get(id); err == nil {
		labels = img.Config.Config.Labels
	}
	d.emitImageLabels(id, name, action, labels)
}

// emitImageLabels is emitImage for an image that may be gone already,
// whose labels the caller read before.
func (d *Daemon) emitImageLabels(id, name string, action moby.Action, labels map[string]string) {
	attrs := maps.Clone(labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["name"] = name
	d.emit(moby.ImageEventType, action, id, attrs)
}

// emitNetwork reports action on a network: its name and type ("bridge"),
// and for connect and disconnect the container's ID.
func (d *Daemon) emitNetwork(id, name, driver string, action moby.Action, containerID string) {
	attrs := map[string]string{"name": name, "type": driver}
	if containerID != "" {
		attrs["container"] = containerID
	}
	d.emit(moby.NetworkEventType, action, id, attrs)
}

// emitVolume reports action on the volume name, with the local driver.
func (d *Daemon) emitVolume(name string, action moby.Action, extra map[string]string) {
	attrs := map[string]string{"driver": "local"}
	maps.Copy(attrs, extra)
	d.emit(moby.VolumeEventType, action, name, attrs)
}

// exitCode is an exit status as the die events write it.
func exitCode(code int) map[string]string {
	return map[string]string{"exitCode": strconv.Itoa(code)}
}

// emitStart reports a start as dockerd does: the container joins its
// networks and mounts its volumes, then runs.
func (d *Daemon) emitStart(e *entry) {
	for _, n := range d.eventNetworks(e) {
		d.emitNetwork(n.id, n.name, n.driver, moby.ActionConnect, e.id)
	}
	for _, m := range eventVolumes(e) {
		d.emitVolume(m.Name, moby.ActionMount, mountAttrs(e, m))
	}
	d.emitContainer(e, moby.ActionStart, nil)
}

// emitFailedStart reports a start that failed (a command that does not
// exist): dockerd has joined the networks and mounted the volumes when
// the runtime fails, and undoes both, with no start and no die.
func (d *Daemon) emitFailedStart(e *entry) {
	nets, vols := d.eventNetworks(e), eventVolumes(e)
	for _, n := range nets {
		d.emitNetwork(n.id, n.name, n.driver, moby.ActionConnect, e.id)
	}
	for _, m := range vols {
		d.emitVolume(m.Name, moby.ActionMount, mountAttrs(e, m))
	}
	for _, n := range nets {
		d.emitNetwork(n.id, n.name, n.driver, moby.ActionDisconnect, e.id)
	}
	for _, m := range vols {
		d.emitVolume(m.Name, moby.ActionUnmount, map[string]string{"container": e.id})
	}
}

// emitCopy reports a docker cp (action archive-path or extract-to-dir,
// or "" for the stat before a copy into the container) as dockerd does:
// dockerd mounts the container's volumes for each request, even on a
// running container, and reports those mounts around the action.
func (d *Daemon) emitCopy(e *entry, action moby.Action) {
	vols := eventVolumes(e)
	for _, m := range vols {
		d.emitVolume(m.Name, moby.ActionMount, mountAttrs(e, m))
	}
	if action != "" {
		d.emitContainer(e, action, nil)
	}
	for _, m := range vols {
		d.emitVolume(m.Name, moby.ActionUnmount, map[string]string{"container": e.id})
	}
}

func mountAttrs(e *entry, m container.MountPoint) map[string]string {
	return map[string]string{
		"container":   e.id,
		"destination": m.Destination,
		"propagation": string(m.Propagation),
		"read/write":  strconv.FormatBool(m.RW),
	}
}

// emitEnd reports the end of a run: an oom if the kernel killed it for
// memory, the die with its status, then (dockerd's clean-up after the
// die) the container leaves its networks and unmounts its volumes.
// Call with live.mu held.
//
// The oom comes before the die, as dockerd's (containerd reports the
// kill as it happens). berth's shim records OOMKilled when it cleans up,
// which may be after the exit status is out: so the cgroup's own kill
// counter is read, while the cgroup is still there; if the clean-up
// removed it first, the state says it, or will (emitLateOOM).
func (d *Daemon) emitEnd(e *entry, st shim.State) {
	oom := st.OOMKilled
	if !oom {
		if cg, err := cgroupOf(e); err == nil {
			oom, _ = cg.OOMKilled()
		}
	}
	if oom {
		e.oomRun = st.StartedAt
		d.emitContainer(e, moby.ActionOOM, nil)
	}
	d.emitContainer(e, moby.ActionDie, exitCode(st.ExitCode))
	for _, n := range d.eventNetworks(e) {
		d.emitNetwork(n.id, n.name, n.driver, moby.ActionDisconnect, e.id)
	}
	for _, m := range eventVolumes(e) {
		d.emitVolume(m.Name, moby.ActionUnmount, map[string]string{"container": e.id})
	}
}

// emitLateOOM reports an oom that the shim recorded after the die was
// reported (the cgroup was gone by then). Call with live.mu held.
func (d *Daemon) emitLateOOM(e *entry, st shim.State) {
	e.oomRun = st.StartedAt
	d.emitContainer(e, moby.ActionOOM, nil)
}

// eventVolumes are the container's volumes (not its binds or tmpfs),
// which have mount and unmount events.
func eventVolumes(e *entry) []container.MountPoint {
	if e.rec == nil {
		return nil
	}
	var out []container.MountPoint
	for _, m := range e.rec.Mounts {
		if m.Type == mount.TypeVolume {
			out = append(out, m)
		}
	}
	return out
}

type eventNetwork struct{ id, name, driver string }

// eventNetworks are the networks of the container, as its connect and
// disconnect events name them. A container joining another's network
// (container:) has none of its own.
func (d *Daemon) eventNetworks(e *entry) []eventNetwork {
	var out []eventNetwork
	for _, ref := range d.networksOf(e) {
		if n, ok := d.eventNetwork(ref); ok {
			out = append(out, n)
		}
	}
	return out
}

// eventNetwork finds a network by a built-in's name or a user network's
// ID or name.
func (d *Daemon) eventNetwork(ref string) (eventNetwork, bool) {
	for _, b := range builtin {
		if ref == b.name {
			return eventNetwork{networkID(b.name), b.name, b.driver}, true
		}
	}
	n, err := network.FindNetwork(d.opts.DataRoot, ref)
	if err != nil {
		return eventNetwork{}, false
	}
	return eventNetwork{n.ID, n.Name, "bridge"}, true
}
