package apitest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// fakeNetwork is a user-defined network of the fake: a name, labels, and
// the containers connected to it (nothing is wired).
type fakeNetwork struct {
	network.Network
	members map[string]bool // container IDs
}

// builtinNetworks are the networks every engine has.
var builtinNetworks = []struct{ name, driver string }{{"bridge", "bridge"}, {"host", "host"}, {"none", "null"}}

// NetworkList lists the three built-in networks and the created ones.
func (f *Fake) NetworkList(context.Context) ([]network.Inspect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Inspect
	for _, n := range builtinNetworks {
		out = append(out, network.Inspect{
			Network:    network.Network{Name: n.name, ID: fakeID("fake network " + n.name), Created: f.started, Scope: "local", Driver: n.driver, EnableIPv4: true},
			Containers: map[string]network.EndpointResource{},
		})
	}
	// By name: the same networks are listed, and pruned, in the same
	// order every time.
	sorted := slices.SortedFunc(maps.Values(f.networks), func(a, b *fakeNetwork) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range sorted {
		in := network.Inspect{Network: n.Network, Containers: map[string]network.EndpointResource{}}
		for id := range n.members {
			if c := f.containers[id]; c != nil {
				in.Containers[id] = network.EndpointResource{Name: strings.TrimPrefix(c.name, "/"), EndpointID: fakeID(id + n.ID)}
			}
		}
		out = append(out, in)
	}
	return out, nil
}

func fakeID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// NetworkCreate records a bridge network by name.
func (f *Fake) NetworkCreate(_ context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	// What berth does not apply was refused by the server
	// (api.CheckNetworkCreate) before it got here.
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.networks {
		if n.Name == req.Name {
			return network.CreateResponse{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("creating network %s: network with name %s already exists: network exists", req.Name, req.Name))
		}
	}
	f.seq++
	id := fakeID(fmt.Sprint("fake user network ", f.seq))
	f.networks[id] = &fakeNetwork{
		Network: network.Network{Name: req.Name, ID: id, Created: time.Now(), Scope: "local", Driver: "bridge", EnableIPv4: true,
			Internal: req.Internal, Attachable: req.Attachable, Labels: maps.Clone(req.Labels), Options: maps.Clone(req.Options)},
		members: map[string]bool{},
	}
	return network.CreateResponse{ID: id}, nil
}

// network finds a created network by name, ID or ID prefix.
func (f *Fake) network(ref string) (*fakeNetwork, error) {
	for _, n := range f.networks {
		if n.Name == ref || strings.HasPrefix(n.ID, ref) {
			return n, nil
		}
	}
	return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
}

// NetworkRemove removes a created network that no container is on.
func (f *Fake) NetworkRemove(_ context.Context, ref string) error {
	for _, name := range builtinNetworks {
		if ref == name.name || ref == fakeID("fake network "+name.name) {
			return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", name.name))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.network(ref)
	if err != nil {
		return err
	}
	if users := f.networkUsers(n); len(users) > 0 {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("error while removing network: network %s id %s has active endpoints (%s): network has active endpoints",
			n.Name, n.ID, strings.Join(users, ", ")))
	}
	delete(f.networks, n.ID)
	return nil
}

// networkUsers are the short IDs of the containers on n: connected to
// it, or running with it as their network mode (the daemon's endpoints).
// Call with f.mu held.
func (f *Fake) networkUsers(n *fakeNetwork) []string {
	var users []string
	for id, c := range f.containers {
		mode := string(c.host.NetworkMode)
		if n.members[id] || (c.status == container.StateRunning && (mode == n.Name || mode == n.ID)) {
			users = append(users, id[:12])
		}
	}
	slices.Sort(users)
	return users
}

// NetworkConnect records a container on a created network.
func (f *Fake) NetworkConnect(_ context.Context, ref string, req network.ConnectRequest) error {
	return f.setMember(ref, req.Container, true)
}

// NetworkDisconnect forgets a container on a created network.
func (f *Fake) NetworkDisconnect(_ context.Context, ref string, req network.DisconnectRequest) error {
	return f.setMember(ref, req.Container, false)
}

// setMember connects the container name to the network ref, or
// disconnects it.
func (f *Fake) setMember(ref, name string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.network(ref)
	if err != nil {
		return err
	}
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	if on {
		n.members[c.id] = true
	} else {
		delete(n.members, c.id)
	}
	return nil
}
