package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	moby "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	chapter05 "github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/final/filters"
)

// builtinNetworks exist without being created, and cannot be removed.
var builtinNetworks = map[string]bool{"bridge": true, "host": true, "none": true}

// networkList lists the networks, filtered as Docker filters them (see
// package final/filters: keys ANDed, label values ANDed, the values of
// name, id, driver, scope and type ORed).
func (s *Server) networkList(w http.ResponseWriter, r *http.Request) error {
	args, err := filters.Parse(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	match, err := networkFilter(args)
	if err != nil {
		return err
	}
	list, err := s.backend.NetworkList(r.Context())
	if err != nil {
		return err
	}
	out := []network.Inspect{}
	for _, n := range list {
		if match(n) {
			out = append(out, n)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// networkFilter checks the list's filters and returns the test of a
// network against them.
func networkFilter(args filters.Args) (func(network.Inspect) bool, error) {
	if err := args.Check("networks", "name", "id", "driver", "label", "scope", "type", "dangling"); err != nil {
		return nil, err
	}
	for _, v := range args["type"] {
		if v != "custom" && v != "builtin" {
			return nil, invalid(fmt.Sprintf("invalid filter: 'type'='%s'", v))
		}
	}
	dangling, danglingSet, err := args.Bool("dangling")
	if err != nil {
		return nil, err
	}
	return func(n network.Inspect) bool {
		builtin := builtinNetworks[n.Name]
		return args.Any("name", func(v string) bool { return strings.Contains(n.Name, v) }) &&
			args.Any("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
			args.Any("driver", func(v string) bool { return n.Driver == v }) &&
			args.Any("scope", func(v string) bool { return n.Scope == v }) &&
			args.Any("type", func(v string) bool { return (v == "builtin") == builtin }) &&
			args.Labels(n.Labels) &&
			(!danglingSet || dangling == (!builtin && len(n.Containers) == 0))
	}, nil
}

// findNetwork finds a network by name, ID or ID prefix, so that `docker
// inspect bridge` and `docker network inspect` work.
func (s *Server) findNetwork(r *http.Request, ref string) (network.Inspect, error) {
	list, err := s.backend.NetworkList(r.Context())
	if err != nil {
		return network.Inspect{}, err
	}
	for _, n := range list {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
	}
	for _, n := range list {
		if len(ref) >= 3 && strings.HasPrefix(n.ID, ref) {
			return n, nil
		}
	}
	return network.Inspect{}, notFound(fmt.Sprintf("network %s not found", ref))
}

func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) error {
	n, err := s.findNetwork(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

// networkCreate answers 201 with the new network's ID.
func (s *Server) networkCreate(w http.ResponseWriter, r *http.Request) error {
	var req network.CreateRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := CheckNetworkCreate(req); err != nil {
		return err
	}
	resp, err := s.backend.NetworkCreate(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (s *Server) networkRemove(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.NetworkRemove(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) networkConnect(w http.ResponseWriter, r *http.Request) error {
	var req network.ConnectRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Container == "" {
		return invalid("no container given to connect")
	}
	if err := s.backend.NetworkConnect(r.Context(), r.PathValue("id"), req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) networkDisconnect(w http.ResponseWriter, r *http.Request) error {
	var req network.DisconnectRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Container == "" {
		return invalid("no container given to disconnect")
	}
	if err := s.backend.NetworkDisconnect(r.Context(), r.PathValue("id"), req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// networkPrune removes the user-defined networks that no container uses
// and that match the filters: label and label! (every one must match),
// until (created before).
func (s *Server) networkPrune(w http.ResponseWriter, r *http.Request) error {
	args, err := filters.Parse(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	if err := args.Check("network prune", "label", "label!", "until"); err != nil {
		return err
	}
	var until time.Time
	if values := args["until"]; len(values) > 0 {
		if len(values) != 1 {
			return invalid("invalid filter 'until': give one value")
		}
		if until, _, err = args.Until(time.Now()); err != nil {
			return err
		}
	}
	list, err := s.backend.NetworkList(r.Context())
	if err != nil {
		return err
	}
	report := network.PruneReport{NetworksDeleted: []string{}}
	for _, n := range list {
		if builtinNetworks[n.Name] || len(n.Containers) > 0 || !args.Labels(n.Labels) ||
			(!until.IsZero() && !n.Created.Before(until)) {
			continue
		}
		err := s.backend.NetworkRemove(r.Context(), n.ID)
		if errdefs.IsConflict(err) || errdefs.IsNotFound(err) {
			continue // used by a stopped container, or gone meanwhile
		}
		if err != nil {
			return err
		}
		report.NetworksDeleted = append(report.NetworksDeleted, n.Name)
	}
	if p, ok := s.backend.(pruneReporter); ok {
		p.Pruned(moby.NetworkEventType, 0)
	}
	writeJSON(w, http.StatusOK, report)
	return nil
}

// CheckNetworkCreate refuses, by name, what a network create request
// asks that berth does not apply: only chapter 05's bridge driver, local
// scope, one IPv4 subnet, and the bridge-name option exist. It is the
// server's check, so the daemon and the fake answer alike (the contract
// suite runs both).
func CheckNetworkCreate(req network.CreateRequest) error {
	switch {
	case req.Name == "":
		return invalid("network name is required")
	case req.Driver != "" && req.Driver != "bridge":
		return invalid(fmt.Sprintf("network driver %q is not supported: berth has the bridge driver only", req.Driver))
	case req.Scope != "" && req.Scope != "local":
		return invalid(fmt.Sprintf("network scope %q is not supported: berth's networks are local", req.Scope))
	case req.EnableIPv6 != nil && *req.EnableIPv6:
		return invalid("EnableIPv6 is not supported: berth's networks are IPv4 only")
	case req.EnableIPv4 != nil && !*req.EnableIPv4:
		return invalid("EnableIPv4=false is not supported: berth's networks are IPv4")
	case req.Ingress:
		return invalid("Ingress is not supported: berth has no swarm")
	case req.ConfigOnly || req.ConfigFrom != nil:
		return invalid("ConfigOnly and ConfigFrom are not supported")
	}
	for k := range req.Options {
		if k != chapter05.BridgeNameOption {
			return invalid(fmt.Sprintf("network option %s is not supported (berth applies %s only)", k, chapter05.BridgeNameOption))
		}
	}
	ipam := req.IPAM
	if ipam == nil {
		return nil
	}
	switch {
	case ipam.Driver != "" && ipam.Driver != "default":
		return invalid(fmt.Sprintf("IPAM driver %q is not supported", ipam.Driver))
	case len(ipam.Options) > 0:
		return invalid("IPAM options are not supported")
	case len(ipam.Config) > 1:
		return invalid(fmt.Sprintf("only one IPAM config (one IPv4 subnet) is supported, not %d", len(ipam.Config)))
	case len(ipam.Config) == 1 && len(ipam.Config[0].AuxAddress) > 0:
		return invalid("IPAM auxiliary addresses are not supported")
	}
	return nil
}
