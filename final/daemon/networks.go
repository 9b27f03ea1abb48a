package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"
	apinet "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
)

// Networks: the three built-in ones (bridge, the daemon's chapter 05
// bridge; host; none) and the user-defined ones of chapter 05's registry
// (network.CreateNetwork), each a bridge of its own. A container's
// networks are chapter 05's record of its attachments, written at
// create and changed by connect and disconnect; its addresses are its
// endpoint's, while it runs.

// builtin are the networks that exist without being created, with their
// drivers.
var builtin = []struct{ name, driver string }{{"bridge", "bridge"}, {"host", "host"}, {"none", "null"}}

// networkID is the fixed ID of one of berth's three networks.
func networkID(name string) string {
	sum := sha256.Sum256([]byte("berth network " + name))
	return hex.EncodeToString(sum[:])
}

// endpointID names a container's place on a network, 64 hex digits as
// Docker's.
func endpointID(containerID, networkID string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + networkID))
	return hex.EncodeToString(sum[:])
}

// defaultNet is the configuration of the daemon's bridge: chapter 05's
// defaults, or the daemon's --bridge and --subnet.
func (d *Daemon) defaultNet() (network.Config, error) {
	n := network.NewConfig()
	if d.opts.Bridge != "" {
		n.Bridge = d.opts.Bridge
	}
	if d.opts.Subnet != "" {
		p, err := network.ParseSubnet(d.opts.Subnet)
		if err != nil {
			return n, err
		}
		n.Subnet = p
	}
	return n, nil
}

// NetworkList lists the built-in networks and the user-defined ones,
// each with the running containers on it.
func (d *Daemon) NetworkList(ctx context.Context) ([]apinet.Inspect, error) {
	def, err := d.defaultNet()
	if err != nil {
		return nil, err
	}
	users, err := network.Networks(d.opts.DataRoot)
	if err != nil {
		return nil, err
	}
	members, err := d.networkMembers()
	if err != nil {
		return nil, err
	}
	var out []apinet.Inspect
	for _, b := range builtin {
		in := apinet.Inspect{
			Network: apinet.Network{
				Name: b.name, ID: networkID(b.name), Created: d.started, Scope: "local", Driver: b.driver,
				EnableIPv4: true, Options: map[string]string{}, Labels: map[string]string{},
			},
			Containers: map[string]apinet.EndpointResource{},
		}
		if b.name == "bridge" {
			in.Options[network.BridgeNameOption] = def.Bridge
			in.IPAM = apinet.IPAM{Driver: "default", Config: []apinet.IPAMConfig{{Subnet: def.Subnet, Gateway: network.Gateway(def.Subnet)}}}
			in.Containers = members[network.DefaultNetwork]
		}
		out = append(out, in)
	}
	for _, n := range users {
		out = append(out, inspectNetwork(n, members[n.ID]))
	}
	return out, nil
}

func inspectNetwork(n *network.Network, members map[string]apinet.EndpointResource) apinet.Inspect {
	labels, options := n.Labels, n.Options
	if labels == nil {
		labels = map[string]string{}
	}
	if options == nil {
		options = map[string]string{}
	}
	if members == nil {
		members = map[string]apinet.EndpointResource{}
	}
	return apinet.Inspect{
		Network: apinet.Network{
			Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
			EnableIPv4: true, Internal: n.Internal, Attachable: n.Attachable, Options: options, Labels: labels,
			IPAM: apinet.IPAM{Driver: "default", Options: map[string]string{},
				Config: []apinet.IPAMConfig{{Subnet: n.Subnet, Gateway: n.Gateway, IPRange: n.IPRange}}},
		},
		Containers: members,
	}
}

// networkMembers maps each network (its ID, or network.DefaultNetwork)
// to the running containers that have an interface on it.
func (d *Daemon) networkMembers() (map[string]map[string]apinet.EndpointResource, error) {
	cs, err := d.containers.List()
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]apinet.EndpointResource{}
	for _, c := range cs {
		ep, err := network.Load(d.opts.DataRoot, c.ID())
		if err != nil || ep.Pid == 0 {
			continue // not running, or not on a bridge
		}
		for _, i := range ep.Interfaces {
			if out[i.Network] == nil {
				out[i.Network] = map[string]apinet.EndpointResource{}
			}
			r := apinet.EndpointResource{Name: c.Name(), EndpointID: endpointID(c.ID(), i.Network), IPv4Address: netip.PrefixFrom(i.IP, i.Subnet.Bits())}
			r.MacAddress, _ = parseMAC(i.MAC)
			out[i.Network][c.ID()] = r
		}
	}
	return out, nil
}

// NetworkCreate creates a user-defined bridge network. What berth does
// not apply is refused, naming the field.
func (d *Daemon) NetworkCreate(ctx context.Context, req apinet.CreateRequest) (apinet.CreateResponse, error) {
	spec, err := networkSpec(req)
	if err != nil {
		return apinet.CreateResponse{}, err
	}
	spec.Pools = d.opts.AddressPools
	if err := spec.Check(); err != nil {
		if errors.Is(err, network.ErrNetworkExists) {
			return apinet.CreateResponse{}, errdefs.ErrConflict.WithMessage(err.Error())
		}
		return apinet.CreateResponse{}, invalid("%v", err)
	}
	n, err := network.CreateNetwork(d.opts.DataRoot, spec)
	switch {
	case errors.Is(err, network.ErrNetworkExists):
		return apinet.CreateResponse{}, errdefs.ErrConflict.WithMessage(err.Error())
	case errors.Is(err, network.ErrSubnetInUse):
		return apinet.CreateResponse{}, giveKind(errdefs.ErrInvalidArgument, err)
	case err != nil:
		return apinet.CreateResponse{}, err
	}
	d.networksChanged()
	d.emitNetwork(n.ID, n.Name, "bridge", moby.ActionCreate, "")
	return apinet.CreateResponse{ID: n.ID}, nil
}

// networkSpec turns the request into chapter 05's spec. What berth does
// not apply was refused by the API's CheckNetworkCreate, which the
// server calls before the backend; it is asked again here for callers
// that reach the daemon without the server (its tests).
func networkSpec(req apinet.CreateRequest) (network.NetworkSpec, error) {
	spec := network.NetworkSpec{Name: req.Name, Internal: req.Internal, Attachable: req.Attachable, Labels: req.Labels, Options: req.Options}
	if err := api.CheckNetworkCreate(req); err != nil {
		return spec, err
	}
	if ipam := req.IPAM; ipam != nil && len(ipam.Config) == 1 {
		c := ipam.Config[0]
		spec.Subnet, spec.Gateway, spec.IPRange = c.Subnet, c.Gateway, c.IPRange
	}
	return spec, nil
}

// isBuiltin says whether ref names one of the three built-in networks.
func isBuiltin(ref string) (string, bool) {
	for _, b := range builtin {
		if ref == b.name || ref == networkID(b.name) || (len(ref) >= 12 && strings.HasPrefix(networkID(b.name), ref)) {
			return b.name, true
		}
	}
	return "", false
}

// NetworkRemove removes a user-defined network that no container uses.
func (d *Daemon) NetworkRemove(ctx context.Context, ref string) error {
	if name, ok := isBuiltin(ref); ok {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", name))
	}
	n, found := d.eventNetwork(ref) // for its event: its name is gone after
	err := network.RemoveNetwork(d.opts.DataRoot, ref)
	switch {
	case errors.Is(err, network.ErrNetworkNotFound):
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	case errors.Is(err, network.ErrNetworkInUse):
		return errdefs.ErrConflict.WithMessage(err.Error())
	}
	if err == nil {
		// No container is on it, but one named it when it was: its
		// name is no longer found (networkSettings).
		d.live.forgetViews()
	}
	d.networksChanged()
	if err == nil && found {
		d.emitNetwork(n.id, n.name, n.driver, moby.ActionDestroy, "")
	}
	return err
}

// networksOf lists the networks container e is on, for docker ps's
// network filter: the names of built-in ones, the IDs of user ones.
func (d *Daemon) networksOf(e *entry) []string {
	mode := ""
	if e.rec != nil {
		mode = string(e.rec.HostConfig.NetworkMode)
	}
	switch {
	case mode == "host" || mode == "none":
		return []string{mode}
	case strings.HasPrefix(mode, "container:"):
		return nil
	}
	atts, err := network.Attachments(d.opts.DataRoot, e.id)
	if err != nil || len(atts) == 0 {
		return []string{"bridge"}
	}
	out := make([]string, 0, len(atts))
	for _, a := range atts {
		if a.Network == network.DefaultNetwork {
			out = append(out, "bridge")
		} else {
			out = append(out, a.Network)
		}
	}
	return out
}

// networkRef resolves a network for a container: a user-defined one to
// its ID, the default bridge to network.DefaultNetwork. host and none
// cannot be connected to.
func (d *Daemon) networkRef(ref string) (string, error) {
	if name, ok := isBuiltin(ref); ok {
		if name != "bridge" {
			return "", errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("container cannot be disconnected from host network or connected to host network (%s)", name))
		}
		return network.DefaultNetwork, nil
	}
	n, err := network.FindNetwork(d.opts.DataRoot, ref)
	if errors.Is(err, network.ErrNetworkNotFound) {
		return "", errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	}
	if err != nil {
		return "", err
	}
	return n.ID, nil
}

// NetworkConnect connects a container, created or running, to a network
// (docker network connect): a running one gets its new interface at once.
func (d *Daemon) NetworkConnect(ctx context.Context, ref string, req apinet.ConnectRequest) error {
	netID, err := d.networkRef(ref)
	if err != nil {
		return err
	}
	e, err := d.lookup(req.Container)
	if err != nil {
		return err
	}
	if err := connectable(e); err != nil {
		return err
	}
	att, err := endpointAttachment(netID, req.EndpointConfig)
	if err != nil {
		return err
	}
	if len(att.Links) > 0 {
		// links.go's checks, for a container joining this network.
		n := network.Config{Mode: network.ModeBridge, Networks: []network.Attachment{att}}
		host := e.hostConfig()
		host.Links = nil
		if err := d.links(&host, &n); err != nil {
			return err
		}
	}
	def, err := d.defaultNet()
	if err != nil {
		return err
	}
	_, err = network.JoinNetwork(d.opts.DataRoot, e.id, def, att)
	if errors.Is(err, network.ErrNetworkExists) {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", e.c.Name(), ref))
	}
	if err != nil {
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	e.forgetView() // the networks docker ps shows
	d.endpointsChanged(e)
	// dockerd reports the connect of a running container only; one
	// that is not running reports it at its start.
	if n, ok := d.eventNetwork(netID); ok && e.c.Running() {
		d.emitNetwork(n.id, n.name, n.driver, moby.ActionConnect, e.id)
	}
	return d.hostsChanged(e)
}

// connectable refuses containers that have no network namespace of
// their own on a bridge (--network host, none, container:), and those of
// a berthd before user networks, whose start would not read the change.
func connectable(e *entry) error {
	var s runSpec
	if err := e.c.DecodeSpec(&s); err != nil {
		return err
	}
	if s.Run.Net.Mode == network.ModeBridge && !s.Run.Net.Recorded {
		return invalid("container %s was created by an older berthd, which records no networks: create it again to connect it", e.id)
	}
	if e.rec == nil {
		return nil
	}
	switch mode := e.rec.HostConfig.NetworkMode; {
	case mode == "host" || mode == "none" || mode.IsContainer():
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("container %s is on network %s: it cannot be connected to other networks", e.id, mode))
	}
	return nil
}

// NetworkDisconnect disconnects a container from a network; a running
// one loses the interface at once. Force changes nothing: a disconnect
// always removes the interface, whatever the container is doing.
func (d *Daemon) NetworkDisconnect(ctx context.Context, ref string, req apinet.DisconnectRequest) error {
	netID, err := d.networkRef(ref)
	if err != nil {
		return err
	}
	e, err := d.lookup(req.Container)
	if err != nil {
		return err
	}
	if err := network.LeaveNetwork(d.opts.DataRoot, e.id, netID); err != nil {
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	e.forgetView()
	d.endpointsChanged(e)
	if n, ok := d.eventNetwork(netID); ok {
		d.emitNetwork(n.id, n.name, n.driver, moby.ActionDisconnect, e.id)
	}
	return d.hostsChanged(e)
}

// endpointAttachment is chapter 05's attachment of a container to network netID,
// from the API's endpoint settings, refusing what berth does not apply.
func endpointAttachment(netID string, es *apinet.EndpointSettings) (network.Attachment, error) {
	a := network.Attachment{Network: netID}
	if es == nil {
		return a, nil
	}
	switch {
	case len(es.DriverOpts) > 0:
		return a, invalid("endpoint driver options are not supported")
	case es.GwPriority != 0:
		return a, invalid("GwPriority is not supported: the first network with a way out is the gateway")
	case es.IPAMConfig != nil && (es.IPAMConfig.IPv6Address.IsValid() || len(es.IPAMConfig.LinkLocalIPs) > 0):
		return a, invalid("IPv6 and link-local addresses are not supported")
	}
	if es.IPAMConfig != nil && es.IPAMConfig.IPv4Address.IsValid() {
		a.IP = es.IPAMConfig.IPv4Address
	}
	if len(es.MacAddress) > 0 {
		a.MAC = es.MacAddress.String()
	}
	a.Aliases = slices.Clone(es.Aliases)
	a.Links = slices.Clone(es.Links) // checked by links (links.go)
	return a, nil
}

// netContainer resolves the container whose network a new container
// (self) joins: it must exist, and not join another's itself.
func (d *Daemon) netContainer(ref, self string) (string, error) {
	e, err := d.lookup(ref)
	if err != nil {
		return "", invalid("joining the network of container %s: no such container", ref)
	}
	if e.id == self {
		return "", invalid("cannot join own network namespace")
	}
	if e.rec != nil && e.rec.HostConfig.NetworkMode.IsContainer() {
		return "", invalid("container %s joins the network of another container: join that one instead", ref)
	}
	return e.id, nil
}

// containerNetworks is chapter 05's part of a container's create, for a
// container on bridges: its attachments, the network of its NetworkMode
// first, then the other networks of its EndpointsConfig in name order.
func (d *Daemon) containerNetworks(mode container.NetworkMode, nc *apinet.NetworkingConfig) ([]network.Attachment, error) {
	var eps map[string]*apinet.EndpointSettings
	if nc != nil {
		eps = nc.EndpointsConfig
	}
	primary := string(mode)
	if primary == "" || primary == "default" {
		primary = "bridge"
	}
	names := []string{primary}
	for _, k := range slices.Sorted(maps.Keys(eps)) {
		if k != primary && !(primary == "bridge" && k == "default") {
			names = append(names, k)
		}
	}
	var out []network.Attachment
	for i, name := range names {
		netID, err := d.networkRef(name)
		if errdefs.IsNotFound(err) {
			// Not a 404: the docker client takes a 404 from create
			// for a missing image, and would try to pull it.
			return nil, invalid("network %s not found", name)
		}
		if err != nil {
			return nil, err
		}
		es := eps[name]
		if es == nil && i == 0 && primary == "bridge" {
			es = eps["default"]
		}
		a, err := endpointAttachment(netID, es)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// networkSettings is a container's NetworkSettings.Networks: each network
// it is on, with its address while it runs.
func (d *Daemon) networkSettings(e *entry, ep *network.Endpoint) map[string]*apinet.EndpointSettings {
	mode := container.NetworkMode("")
	if e.rec != nil {
		mode = e.rec.HostConfig.NetworkMode
	}
	switch name := networkName(mode); {
	case name == "host" || name == "none":
		return map[string]*apinet.EndpointSettings{name: {NetworkID: networkID(name)}}
	case mode.IsContainer():
		return map[string]*apinet.EndpointSettings{} // the other container's
	}
	atts, err := network.Attachments(d.opts.DataRoot, e.id)
	if err != nil || atts == nil {
		// A container of a berthd before user networks: the bridge.
		atts = []network.Attachment{{Network: network.DefaultNetwork}}
	}
	out := map[string]*apinet.EndpointSettings{}
	for _, a := range atts {
		name, id := "bridge", networkID("bridge")
		if a.Network != network.DefaultNetwork {
			name, id = a.Network, a.Network
			if n, err := network.FindNetwork(d.opts.DataRoot, a.Network); err == nil {
				name = n.Name
			}
		}
		es := &apinet.EndpointSettings{NetworkID: id, Aliases: a.Aliases, Links: a.Links}
		if a.IP.IsValid() {
			es.IPAMConfig = &apinet.EndpointIPAMConfig{IPv4Address: a.IP}
		}
		if a.Network != network.DefaultNetwork {
			es.DNSNames = d.dnsNames(e, a.Aliases)
		}
		if ep != nil {
			if i := ep.On(a.Network); i != nil {
				es.EndpointID = endpointID(e.id, a.Network)
				es.IPAddress, es.Gateway, es.IPPrefixLen = i.IP, i.Gateway, i.Subnet.Bits()
				es.MacAddress, _ = parseMAC(i.MAC)
			}
		}
		out[name] = es
	}
	return out
}

// dnsNames are the names a container answers to on a user network: its
// name, its aliases, its short ID, as Docker lists them.
func (d *Daemon) dnsNames(e *entry, aliases []string) []string {
	names := []string{e.c.Name()}
	names = append(names, aliases...)
	names = append(names, e.id[:12])
	// Compose gives each container its own name as an alias too: each
	// name once, in order, as dockerd lists them.
	seen := map[string]bool{}
	out := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// EndpointInfo is a container's place on one user-defined network, as a
// DNS server for the network needs it.
type EndpointInfo struct {
	Network   string     // the network's name
	NetworkID string     // its ID
	Gateway   netip.Addr // where the network's DNS server listens
	IP        netip.Addr // the container's address
	Names     []string   // the container's name, aliases and short ID
	Internal  bool       // the network has no way out: forward nothing
	// Upstreams are the container's own resolvers (--dns), on port 53.
	Upstreams []netip.AddrPort
	// Links are its --link aliases on the network: alias -> name.
	Links map[string]string
}

// EndpointWatcher is told the user-network endpoints of a container
// whenever they change: at its start, connect, disconnect, exit and
// removal (none left then), and for each running container when the
// daemon starts. It is the one place where a network's DNS records can
// be kept (Options.Endpoints).
type EndpointWatcher interface {
	SetEndpoints(containerID string, eps []EndpointInfo)
}

// endpointsChanged tells the watcher, if any, e's endpoints now.
func (d *Daemon) endpointsChanged(e *entry) {
	d.linkTargetStarted(e) // links.go
	if d.opts.Endpoints == nil {
		return
	}
	d.opts.Endpoints.SetEndpoints(e.id, d.userEndpoints(e))
}

// userEndpoints lists e's interfaces on user-defined networks while it
// runs.
func (d *Daemon) userEndpoints(e *entry) []EndpointInfo {
	st, err := e.c.State()
	if err != nil || st.Status != shim.Running {
		return nil
	}
	ep, err := network.Load(d.opts.DataRoot, e.id)
	if err != nil {
		return nil
	}
	return d.endpointsOf(e, ep)
}

// startingEndpoint is the DNS server's dns.Server.Unknown: a query came
// on network netID from client, an address the server has no record of.
// If it is a container whose start is under way, its network is up
// (chapter 05 wires it before the command runs) and its command may
// already be asking: its records go in now, as dockerd has them before
// the command starts, rather than when the start's report comes back.
// Otherwise (the host, a container of another berth) nothing changes.
func (d *Daemon) startingEndpoint(netID string, client netip.Addr) {
	for _, e := range d.live.starting() {
		ep, err := network.Load(d.opts.DataRoot, e.id)
		if err != nil {
			continue
		}
		if i := ep.On(netID); i != nil && i.IP == client {
			d.opts.Endpoints.SetEndpoints(e.id, d.endpointsOf(e, ep))
			return
		}
	}
}

// endpointsOf lists the interfaces of endpoint ep, container e's, on
// user-defined networks.
func (d *Daemon) endpointsOf(e *entry, ep *network.Endpoint) []EndpointInfo {
	atts, _ := network.Attachments(d.opts.DataRoot, e.id)
	var out []EndpointInfo
	for _, i := range ep.Interfaces {
		if i.Network == network.DefaultNetwork {
			continue
		}
		var aliases, links []string
		for _, a := range atts {
			if a.Network == i.Network {
				aliases, links = a.Aliases, a.Links
			}
		}
		out = append(out, EndpointInfo{Network: i.NetworkName, NetworkID: i.Network, Gateway: i.Gateway, IP: i.IP, Names: d.dnsNames(e, aliases),
			Internal: i.Internal, Upstreams: dnsUpstreams(e), Links: linkAliases(links)})
	}
	return out
}
