package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// Attachment is a container's wish to be on a network: docker run
// --network NAME [--ip ADDR] [--mac-address MAC] [--network-alias A], or
// docker network connect.
type Attachment struct {
	// Network is a network's name or ID, or DefaultNetwork.
	Network string     `json:"network"`
	IP      netip.Addr `json:"ip,omitzero"`   // a static address; zero: any free one
	MAC     string     `json:"mac,omitempty"` // zero: derived from the address
	Aliases []string   `json:"aliases,omitempty"`
	// Links are the container's links on this user network (docker
	// run --link NAME[:ALIAS]), as NAME:ALIAS: ALIAS resolves to the
	// container NAME for this container alone, through the network's
	// DNS server (dns.Endpoint.Links). Legacy links, /etc/hosts lines
	// and variables on the default bridge, are not berth's.
	Links []string `json:"links,omitempty"`
}

// errDefaultNetworkOptions refuses, as Docker does, what only a user
// network's own allocator and DNS server can honour.
var errDefaultNetworkOptions = errors.New("user specified IP address and aliases are supported on user defined networks only")

// A container of a daemon may be connected to networks and disconnected
// from them between its starts (docker network connect), but the program
// that starts it reads its Config once, at create. So such a container's
// attachments are recorded under the root instead, and read by each
// Allocate (Config.Recorded):
//
//	<root>/network/containers/<id>.json
func attachmentsPath(root, id string) string {
	return filepath.Join(stateDir(root), "containers", id+".json")
}

// attachments are the networks an Allocate puts the container on.
func (c *Config) attachments(root, id string) ([]Attachment, error) {
	if c.Recorded {
		return readAttachments(root, id)
	}
	if len(c.Networks) == 0 {
		return []Attachment{{Network: DefaultNetwork}}, nil
	}
	return c.Networks, nil
}

func readAttachments(root, id string) ([]Attachment, error) {
	b, err := os.ReadFile(attachmentsPath(root, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var atts []Attachment
	if err == nil {
		err = json.Unmarshal(b, &atts)
	}
	if err != nil {
		return nil, fmt.Errorf("networks of container %s: %w", namespace.ShortID(id), err)
	}
	return atts, nil
}

// userNetworks reads the networks of root if one of atts is on a user
// network: the default bridge alone, the path of most starts, reads no
// directory.
func userNetworks(root string, atts []Attachment) ([]*Network, error) {
	if defaultOnly(atts) {
		return nil, nil
	}
	return Networks(root)
}

func defaultOnly(atts []Attachment) bool {
	for _, a := range atts {
		if a.Network != DefaultNetwork && a.Network != "" {
			return false
		}
	}
	return true
}

// Attachments returns the networks recorded for container id, as
// SetAttachments, JoinNetwork and LeaveNetwork left them, each network
// by its ID (or DefaultNetwork).
func Attachments(root, id string) ([]Attachment, error) { return readAttachments(root, id) }

// SetAttachments records the networks container id is to be on (see
// Config.Recorded). Each network must exist; it is recorded by its ID.
// A static address must lie in the network's subnet.
func SetAttachments(root, id string, atts []Attachment) error {
	if err := checkID(id); err != nil {
		return err
	}
	if defaultOnly(atts) && len(atts) <= 1 {
		// The default bridge alone: nothing to check against the
		// networks, so no lock and no state to rewrite (the path of
		// most creates).
		var out []Attachment
		for _, a := range atts {
			a, err := resolve(nil, a)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		if err := os.MkdirAll(filepath.Dir(attachmentsPath(root, id)), 0o700); err != nil {
			return fmt.Errorf("networks of container %s: %w", namespace.ShortID(id), err)
		}
		return writeJSON(attachmentsPath(root, id), out)
	}
	return withState(root, func(*state) error {
		nets, err := Networks(root)
		if err != nil {
			return err
		}
		var out []Attachment
		for _, a := range atts {
			if a, err = resolve(nets, a); err != nil {
				return err
			}
			if slices.ContainsFunc(out, func(o Attachment) bool { return o.Network == a.Network }) {
				return fmt.Errorf("container %s is connected to network %s twice", namespace.ShortID(id), a.Network)
			}
			out = append(out, a)
		}
		return writeJSON(attachmentsPath(root, id), out)
	})
}

// resolve names a's network by its ID and checks a's static address.
func resolve(nets []*Network, a Attachment) (Attachment, error) {
	if a.Network == DefaultNetwork || a.Network == "" {
		a.Network = DefaultNetwork
		if a.IP.IsValid() || len(a.Aliases) > 0 {
			return a, errDefaultNetworkOptions
		}
		return a, nil
	}
	n, err := findIn(nets, a.Network)
	if err != nil {
		return a, err
	}
	a.Network = n.ID
	if a.IP.IsValid() {
		if err := checkHostAddr(n.Subnet, a.IP); err != nil {
			return a, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	return a, nil
}

// ForgetAttachments deletes container id's record (its removal).
func ForgetAttachments(root, id string) error {
	err := os.Remove(attachmentsPath(root, id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("networks of container %s: %w", namespace.ShortID(id), err)
	}
	return nil
}

// allAttachments reads every container's record.
func allAttachments(root string) (map[string][]Attachment, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir(root), "containers"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network records: %w", err)
	}
	out := map[string][]Attachment{}
	for _, de := range entries {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok {
			continue
		}
		if out[id], err = readAttachments(root, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// JoinNetwork connects container id to a network (docker network
// connect): it adds the network to the container's record, and if the
// container runs (its endpoint is attached), gives it the interface at
// once: a veth created into the namespace of its process, as at its
// start. cfg gives the default bridge, for a connection to it.
//
// A container that is starting (allocated, not yet attached) gets the
// network at its next start.
func JoinNetwork(root, id string, cfg Config, a Attachment) (*Interface, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var iface *Interface
	err := withState(root, func(s *state) error {
		nets, err := Networks(root)
		if err != nil {
			return err
		}
		if a, err = resolve(nets, a); err != nil {
			return err
		}
		atts, err := readAttachments(root, id)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(atts, func(o Attachment) bool { return o.Network == a.Network }) {
			return fmt.Errorf("container %s is already connected to network %s: %w", namespace.ShortID(id), a.Network, ErrNetworkExists)
		}
		if e, err := Load(root, id); err == nil && e.Pid != 0 && e.attached() {
			if iface, err = e.hotplug(s, cfg, nets, a); err != nil {
				return err
			}
		}
		return writeJSON(attachmentsPath(root, id), append(atts, a))
	})
	if err != nil {
		return nil, fmt.Errorf("connecting container %s: %w", namespace.ShortID(id), err)
	}
	return iface, nil
}

// hotplug adds and wires one interface of a running container.
func (e *Endpoint) hotplug(s *state, cfg Config, nets []*Network, a Attachment) (*Interface, error) {
	i, err := e.addInterface(s, cfg, nets, a)
	if err != nil {
		return nil, err
	}
	if err := e.attachInterface(i, e.Pid, nil); err != nil {
		return nil, errors.Join(err, e.detachInterface(i, true))
	}
	return i, e.save()
}

// LeaveNetwork disconnects container id from a network (docker network
// disconnect): it removes the network from the container's record, and
// if the container has an interface on it, deletes the interface and
// frees its address.
func LeaveNetwork(root, id, network string) error {
	err := withState(root, func(s *state) error {
		nets, err := Networks(root)
		if err != nil {
			return err
		}
		a, err := resolve(nets, Attachment{Network: network})
		if err != nil {
			return err
		}
		atts, err := readAttachments(root, id)
		if err != nil {
			return err
		}
		kept := slices.DeleteFunc(slices.Clone(atts), func(o Attachment) bool { return o.Network == a.Network })
		e, lerr := Load(root, id)
		var i *Interface
		if lerr == nil {
			i = e.On(a.Network)
		}
		if len(kept) == len(atts) && i == nil {
			return fmt.Errorf("container %s is not connected to network %s", namespace.ShortID(id), network)
		}
		if i != nil {
			if err := e.detachInterface(i, e.Pid != 0 && e.attached()); err != nil {
				return err
			}
			s.releaseOn(i.Bridge, i.IP, id)
			e.Interfaces = slices.DeleteFunc(e.Interfaces, func(o *Interface) bool { return o == i })
			if err := e.save(); err != nil {
				return err
			}
		}
		if atts == nil {
			return nil // a container without a record (a chapter program's)
		}
		return writeJSON(attachmentsPath(root, id), kept)
	})
	if err != nil {
		return fmt.Errorf("disconnecting container %s: %w", namespace.ShortID(id), err)
	}
	return nil
}
