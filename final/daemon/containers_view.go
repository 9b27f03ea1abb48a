package daemon

import (
	"net/netip"
	"sync"

	"github.com/moby/moby/api/types/container"
	apinet "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/health"
)

// What docker ps shows of a container, kept in memory.
//
// A line of docker ps is made of the container's state (the shim's
// state.json and exit.json, and whether its shim still holds its lock),
// whether it is frozen (the cgroup's freezer), its networks (chapter
// 05's attachments, and its endpoint while it runs), its published ports
// and, for a container whose checks do not run, its last recorded
// health. Read from the disk for every container at every request, that
// is a dozen files per container: docker ps with 100 containers took
// longer on berthd than on dockerd, and grew with every container on
// disk, running or not.
//
// So each entry keeps a view of those, read once and used by every list
// until something changes it. Everything that can change a view drops
// it (forgetView), after the change and before the change is reported:
//
//	the shim's steps (start, exit, clean-up)  look, from the inotify watch
//	docker start, a restart policy's start    started, startFailed
//	stop, kill, rm -f                         look, before they return
//	the shim's death (kill -9)                look, once its lock is free
//	pause, unpause                            ContainerPause, ContainerUnpause
//	commit's pause, a signal's thaw           ContainerCommit, thawAfterSignal
//	rename (DNS names)                        ContainerRename
//	network connect, disconnect               NetworkConnect, NetworkDisconnect
//	a network removed (its name)              NetworkRemove
//
// The next list reads the disk again for that container only. A list
// that read the disk while a change happened does not keep what it read
// (the generation has moved on): a view is never older than the last
// change reported. Whatever changes fast is not in the view: the "Up 3
// seconds" text is made at each list, the health of a container that
// this daemon has checked is its monitor's (in memory, kept after the
// checks end; the recorded one is read only before), the restart
// policy's state is the Manager's. A new daemon starts with no views: its first list reads
// each container once, as the shims left it.

// listView is the part of a ps line that comes from the disk. Its
// slice and maps go into the answers of every list that uses it, as they
// are: nobody writes to them once the view is made.
type listView struct {
	st       shim.State
	paused   bool
	health   string // the recorded health, for a container without a running monitor
	ports    []container.PortSummary
	networks map[string]*apinet.EndpointSettings // NetworkSettings.Networks
	netRefs  []string                            // networksOf, for the network filter
}

// viewCache holds an entry's view, and the generation of its changes.
type viewCache struct {
	mu  sync.Mutex
	gen uint64
	v   *listView
}

// forgetView drops e's view: something it shows has changed.
func (e *entry) forgetView() {
	e.view.mu.Lock()
	e.view.gen++
	e.view.v = nil
	e.view.mu.Unlock()
}

// listView is e's view: the one kept, or one read from the disk now and
// kept unless e changed meanwhile. ok is false for a container whose
// state cannot be read (removed meanwhile).
func (d *Daemon) listView(e *entry) (v *listView, ok bool) {
	e.view.mu.Lock()
	v, gen := e.view.v, e.view.gen
	e.view.mu.Unlock()
	if v != nil {
		return v, true
	}
	v, err := d.readView(e)
	if err != nil {
		return nil, false
	}
	e.view.mu.Lock()
	if e.view.gen == gen {
		e.view.v = v
	}
	e.view.mu.Unlock()
	return v, true
}

// readView reads e's view from the disk.
func (d *Daemon) readView(e *entry) (*listView, error) {
	st, err := e.c.State()
	if err != nil {
		return nil, err
	}
	v := &listView{st: st, paused: paused(e, st), ports: []container.PortSummary{}}
	if e.healthConfig() != nil {
		v.health = string(readHealth(e.c.Dir()).Status)
	}
	ep := d.endpoint(e, st)
	if ep != nil {
		published := map[container.PortSummary]bool{}
		for _, m := range d.publishedPorts(e.id, ep) {
			ip := m.HostIP
			if !ip.IsValid() {
				ip = netip.IPv4Unspecified()
			}
			v.ports = append(v.ports, container.PortSummary{IP: ip, PrivatePort: m.ContainerPort, PublicPort: m.HostPort, Type: m.Protocol})
			published[container.PortSummary{PrivatePort: m.ContainerPort, Type: m.Protocol}] = true
		}
		// The ports it exposes and does not publish, as dockerd lists
		// them ("9000/tcp" in PORTS): the container's side only.
		if e.rec != nil {
			for p := range e.rec.Config.ExposedPorts {
				ps := container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())}
				if !published[ps] {
					v.ports = append(v.ports, ps)
				}
			}
		}
	}
	v.networks = d.networkSettings(e, ep)
	v.netRefs = d.networksOf(e)
	return v, nil
}

// viewHealth is healthStatus from e's view: the monitor's status, in
// memory, once this daemon has checked e; before that, the one recorded.
func viewHealth(e *entry, v *listView) string {
	if e.healthConfig() == nil {
		return string(health.None)
	}
	e.healthMu.Lock()
	m := e.health
	e.healthMu.Unlock()
	if m == nil {
		return v.health
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.st.Status)
}

// sawState drops e's view if its state is not st, which was read from
// the disk just now: whoever has seen the new state (docker inspect)
// finds it in docker ps too, even before the shim's news has reached
// the daemon's watch.
func (e *entry) sawState(st shim.State) {
	e.view.mu.Lock()
	if e.view.v != nil && e.view.v.st != st {
		e.view.gen++
		e.view.v = nil
	}
	e.view.mu.Unlock()
}

// forgetViews drops every container's view.
func (l *live) forgetViews() {
	for _, e := range l.newestFirst() {
		e.forgetView()
	}
}

// forgetViewOf drops the view of the container whose ID is id, if the
// daemon knows it.
func (d *Daemon) forgetViewOf(id string) {
	d.live.mu.Lock()
	e := d.live.byID[id]
	d.live.mu.Unlock()
	if e != nil {
		e.forgetView()
	}
}
