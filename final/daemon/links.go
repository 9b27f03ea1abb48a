package daemon

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	apinet "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/05-network/dns"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
)

// Links (docker run --link NAME[:ALIAS], Compose's links:).
//
// On a user network, which is where Compose puts every service, a link
// is a name for the linking container alone: ALIAS (NAME when there is
// none) resolves to the container NAME through the network's DNS
// server, for queries from the linking container; other containers do
// not see the alias. dockerd does the same, and moves the links of
// HostConfig to the network's endpoint, where inspect shows them
// (NetworkSettings.Networks.NET.Links, HostConfig.Links null): so does
// berthd. As under dockerd the target need not exist, run, nor be on
// the network at create: the name is looked up at each query.
//
// On the default bridge a link is a legacy link, Docker's first way of
// naming containers: the target must exist at create and run at each
// start of the linking container (and at each exec in it), which then
// gets a line of /etc/hosts (the target's address, then the alias, the
// target's hostname and its name unless that is the alias) and
// variables that describe the target (ALIAS_NAME, ALIAS_PORT,
// ALIAS_ENV_...), computed at that start from the target as it is then;
// an exec gets them anew. When the target starts again with another
// address, the line in the file of each running linker is rewritten, as
// dockerd 20.10 does; the variables of the running linker keep the old
// one (TestSameAsDockerd_LegacyLinks).
//
//	linker's /etc/hosts:  10.88.0.3<TAB>db 4f3c2a1b9e7d lk-db
//	linker's environment: DB_NAME=/me/db  DB_PORT=tcp://10.88.0.3:5432
//	                      DB_PORT_5432_TCP_ADDR=10.88.0.3 ...
//	                      DB_ENV_POSTGRES_DB=app (the target's -e, but HOME, PATH)
// The record keeps each link as TARGET-ID:ALIAS, so that a rename of
// either container shows in inspect ("/target:/me/alias"), and a link to
// a removed target is gone, as dockerd drops it from its link graph.

// links checks the request's links and moves them to the container's
// first user network, or, on the default bridge, keeps them as the
// legacy links' record.
func (d *Daemon) links(h *container.HostConfig, n *network.Config) error {
	var all []string
	all = append(all, h.Links...)
	for _, a := range n.Networks {
		all = append(all, a.Links...)
	}
	if len(all) == 0 {
		return nil
	}
	switch {
	case h.NetworkMode.IsHost():
		return invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
	case h.NetworkMode.IsContainer():
		return invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior")
	}
	for _, l := range all {
		if _, _, err := splitLink(l); err != nil {
			return err
		}
	}
	if n.Mode != network.ModeBridge || len(n.Networks) == 0 {
		// --network none: nothing to resolve with, as under dockerd,
		// which takes the links and does nothing with them.
		h.Links = nil
		return nil
	}
	first := &n.Networks[0]
	for _, a := range n.Networks {
		if a.Network == network.DefaultNetwork && len(a.Links) > 0 {
			return invalid("links are only supported for user-defined networks")
		}
	}
	if len(h.Links) > 0 && first.Network == network.DefaultNetwork {
		return d.legacyLinks(h)
	}
	// The docker CLI sends a user network's links twice, in HostConfig
	// and in the network's endpoint: kept once, in order.
	for _, l := range h.Links {
		if !slices.Contains(first.Links, l) {
			first.Links = append(first.Links, l)
		}
	}
	h.Links = nil
	return nil
}

// legacyLinks checks the targets of links on the default bridge, as
// dockerd does at create (they must exist, and not be on the host's
// network), and records them as TARGET-ID:ALIAS, one per alias (a
// later link with the same alias replaces an earlier one, as in
// dockerd's graph).
func (d *Daemon) legacyLinks(h *container.HostConfig) error {
	var out []string
	aliases := map[string]int{}
	for _, l := range h.Links {
		name, alias, _ := splitLink(l)
		e, err := d.lookup(name)
		if err != nil {
			return invalid("could not get container for %s: %v", name, err)
		}
		for depth := 0; e.rec != nil && e.rec.HostConfig.NetworkMode.IsContainer(); depth++ {
			other := e.rec.HostConfig.NetworkMode.ConnectedContainer()
			if e, err = d.lookup(other); err != nil || depth > 16 {
				return invalid("Could not get container for %s", other)
			}
		}
		if e.rec != nil && e.rec.HostConfig.NetworkMode.IsHost() {
			return invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
		}
		if i, ok := aliases[alias]; ok {
			out[i] = e.id + ":" + alias
			continue
		}
		aliases[alias] = len(out)
		out = append(out, e.id+":"+alias)
	}
	h.Links = out
	return nil
}

// linksForInspect are the recorded legacy links as inspect shows them,
// "/target:/me/alias", with the names the containers have now; a link
// whose target was removed is gone.
func (d *Daemon) linksForInspect(e *entry, links []string) []string {
	var out []string
	for _, l := range links {
		id, alias, _ := strings.Cut(l, ":")
		t, err := d.lookup(id)
		if err != nil || t.id != id {
			continue
		}
		out = append(out, "/"+t.c.Name()+":/"+e.c.Name()+"/"+alias)
	}
	return out
}

// linkTarget is what the start of a linking container needs of one
// target: found in the store by the shim, which has no daemon.
type linkTarget struct {
	name, hostname string
	ip             netip.Addr
	ports          []apinet.Port
	env            []string
}

// findLinkTarget looks up target id for the link alias of container
// self (named /self), as at dockerd's start: it must run and be on the
// default bridge. ok is false when the target was removed (the link is
// gone).
func findLinkTarget(store *shim.Store, root, self, id, alias string) (t linkTarget, ok bool, err error) {
	c, err := store.Get(id)
	if err != nil || c.ID() != id {
		return t, false, nil
	}
	t.name = "/" + c.Name()
	st, err := c.State()
	if err != nil {
		return t, false, err
	}
	if st.Status != shim.Running {
		return t, true, fmt.Errorf("Cannot link to a non running container: %s AS /%s/%s", t.name, self, alias)
	}
	rec, err := readRecord(c)
	if err != nil {
		return t, true, err
	}
	// Through --network container:, the container whose network it is.
	for depth := 0; rec.HostConfig.NetworkMode.IsContainer() && depth < 16; depth++ {
		o, err := store.Get(rec.HostConfig.NetworkMode.ConnectedContainer())
		if err != nil {
			return t, true, fmt.Errorf("Could not get container for %s", rec.HostConfig.NetworkMode.ConnectedContainer())
		}
		id = o.ID()
		r, err := readRecord(o)
		if err != nil {
			return t, true, err
		}
		rec.HostConfig.NetworkMode = r.HostConfig.NetworkMode
	}
	if ep, err := network.Load(root, id); err == nil {
		for _, i := range ep.Interfaces {
			if i.Network == network.DefaultNetwork {
				t.ip = i.IP
			}
		}
	}
	if !t.ip.IsValid() {
		return t, true, fmt.Errorf("Cannot link to %s, as it does not belong to the default network", t.name)
	}
	t.hostname, t.env = rec.Config.Hostname, rec.Config.Env
	for p := range rec.Config.ExposedPorts {
		t.ports = append(t.ports, p)
	}
	return t, true, nil
}

// legacyLinkStart gives container c (linking to targets on the default
// bridge) its lines of /etc/hosts and its variables, at its start.
func legacyLinkStart(root string, c *shim.Container, o *image.RunOptions) error {
	rec, err := readRecord(c)
	if err != nil || len(rec.HostConfig.Links) == 0 {
		return nil // no record: a container of no daemon's, with no links
	}
	hosts, env, err := linkedTargets(root, c.Name(), rec.HostConfig.Links)
	if err != nil {
		return err
	}
	o.DNS.ExtraHosts = append(o.DNS.ExtraHosts, hosts...)
	// The container's own variables win over a link's, as under
	// dockerd, whose link variables come first.
	own := map[string]bool{}
	for _, v := range o.FS.Env {
		k, _, _ := strings.Cut(v, "=")
		own[k] = true
	}
	var add []string
	for _, v := range env {
		k, _, _ := strings.Cut(v, "=")
		if !own[k] {
			own[k] = true
			add = append(add, v)
		}
	}
	o.FS.Env = append(add, o.FS.Env...)
	return nil
}

// linkedTargets are the /etc/hosts lines and the variables of the legacy
// links (TARGET-ID:ALIAS) of container self, from the targets as they
// are now: dockerd computes them at each start and each exec.
func linkedTargets(root, self string, links []string) ([]dns.Host, []string, error) {
	if len(links) == 0 {
		return nil, nil, nil
	}
	store, err := shim.OpenStore(root)
	if err != nil {
		return nil, nil, err
	}
	var hosts []dns.Host
	var env []string
	for _, l := range links {
		id, alias, _ := strings.Cut(l, ":")
		t, ok, err := findLinkTarget(store, root, self, id, alias)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		names := alias + " " + t.hostname
		if alias != t.name[1:] {
			names += " " + t.name[1:]
		}
		hosts = append(hosts, dns.Host{Name: names, IP: t.ip})
		env = append(env, linkEnv("/"+self+"/"+alias, t)...)
	}
	return hosts, env, nil
}

// linkTargetStarted rewrites, in the /etc/hosts of each running
// container linked to e, the address of e's line (found by its alias
// after a tab, as dockerd finds it) to e's address now: dockerd updates
// the files of a target's linkers when it starts.
func (d *Daemon) linkTargetStarted(e *entry) {
	if !e.c.Running() {
		return
	}
	ep, err := network.Load(d.opts.DataRoot, e.id)
	if err != nil {
		return
	}
	var ip netip.Addr
	for _, i := range ep.Interfaces {
		if i.Network == network.DefaultNetwork {
			ip = i.IP
		}
	}
	if !ip.IsValid() {
		return
	}
	l := d.live
	l.mu.Lock()
	var linkers []*entry
	for _, o := range l.byID {
		if slices.ContainsFunc(o.legacyLinks(), func(s string) bool { return strings.HasPrefix(s, e.id+":") }) {
			linkers = append(linkers, o)
		}
	}
	l.mu.Unlock()
	hostsMu.Lock()
	defer hostsMu.Unlock()
	for _, o := range linkers {
		if !o.c.Running() {
			continue
		}
		_, hosts, _ := dns.Paths(o.c.Dir())
		data, err := os.ReadFile(hosts)
		if err != nil {
			continue
		}
		for _, link := range o.legacyLinks() {
			id, alias, _ := strings.Cut(link, ":")
			if id != e.id {
				continue
			}
			re := regexp.MustCompile(`(\S*)(\t` + regexp.QuoteMeta(alias) + `)(\s|\.)`)
			data = re.ReplaceAll(data, []byte(ip.String()+"$2$3"))
		}
		_ = os.WriteFile(hosts, data, 0o644)
	}
}

// checkLinkTargets is the daemon's check before a start: a target that
// does not run is dockerd's error at the start, a 400 the client shows
// as is (the shim's start would only wrap it).
func (d *Daemon) checkLinkTargets(e *entry) error {
	if len(e.legacyLinks()) == 0 {
		return nil
	}
	store, err := shim.OpenStore(d.opts.DataRoot)
	if err != nil {
		return err
	}
	for _, l := range e.legacyLinks() {
		id, alias, _ := strings.Cut(l, ":")
		if _, _, err := findLinkTarget(store, d.opts.DataRoot, e.c.Name(), id, alias); err != nil {
			return invalid("%v", err)
		}
	}
	return nil
}

// linkEnv are the variables of a link named name (/me/alias) to t, as
// dockerd writes them: ALIAS (the alias upper-cased, - as _) _PORT for
// the lowest port, then for each port in order (tcp first) _PORT_N_PROTO
// with _ADDR, _PORT and _PROTO, and for a run of consecutive ports its
// _START and _END; ALIAS_NAME; ALIAS_ENV_ each of the target's own
// variables but HOME and PATH.
func linkEnv(name string, t linkTarget) []string {
	alias := strings.ReplaceAll(strings.ToUpper(path.Base(name)), "-", "_")
	var env []string
	ports := slices.Clone(t.ports)
	if len(ports) > 0 {
		lowest := slices.MinFunc(ports, func(a, b apinet.Port) int { return cmp.Compare(a.Num(), b.Num()) })
		env = append(env, fmt.Sprintf("%s_PORT=%s://%s:%d", alias, lowest.Proto(), t.ip, lowest.Num()))
	}
	slices.SortStableFunc(ports, func(a, b apinet.Port) int {
		if c := cmp.Compare(a.Num(), b.Num()); c != 0 {
			return c
		}
		switch {
		case a.Proto() == b.Proto():
			return 0
		case a.Proto() == "tcp":
			return -1
		case b.Proto() == "tcp":
			return 1
		}
		return cmp.Compare(a.Proto(), b.Proto())
	})
	for i := 0; i < len(ports); {
		// j is the last port of the run that follows on from i; a run
		// of three ports or more also gets _START and _END (of two,
		// none: dockerd 20.10's count).
		j, next := i, int(ports[i].Num())
		for j+1 < len(ports) && int(ports[j+1].Num()) <= next+1 {
			j, next = j+1, next+1
		}
		p := ports[i]
		key := fmt.Sprintf("%s_PORT_%d_%s", alias, p.Num(), strings.ToUpper(string(p.Proto())))
		if j > i+1 {
			q := ports[j]
			env = append(env,
				fmt.Sprintf("%s_START=%s://%s:%d", key, p.Proto(), t.ip, p.Num()),
				fmt.Sprintf("%s_ADDR=%s", key, t.ip),
				fmt.Sprintf("%s_PROTO=%s", key, p.Proto()),
				fmt.Sprintf("%s_PORT_START=%d", key, p.Num()),
				fmt.Sprintf("%s_PORT_%d_%s_END=%s://%s:%d", alias, p.Num(), strings.ToUpper(string(q.Proto())), q.Proto(), t.ip, q.Num()),
				fmt.Sprintf("%s_PORT_%d_%s_PORT_END=%d", alias, p.Num(), strings.ToUpper(string(q.Proto())), q.Num()))
		}
		for _, p := range ports[i : j+1] {
			key := fmt.Sprintf("%s_PORT_%d_%s", alias, p.Num(), strings.ToUpper(string(p.Proto())))
			env = append(env,
				fmt.Sprintf("%s=%s://%s:%d", key, p.Proto(), t.ip, p.Num()),
				fmt.Sprintf("%s_ADDR=%s", key, t.ip),
				fmt.Sprintf("%s_PORT=%d", key, p.Num()),
				fmt.Sprintf("%s_PROTO=%s", key, p.Proto()))
		}
		i = j + 1
	}
	env = append(env, fmt.Sprintf("%s_NAME=%s", alias, name))
	for _, v := range t.env {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "HOME" || k == "PATH" {
			continue
		}
		env = append(env, fmt.Sprintf("%s_ENV_%s=%s", alias, k, val))
	}
	return env
}

// splitLink reads NAME[:ALIAS] (a leading / on either, as the API
// writes names, is dropped).
func splitLink(l string) (name, alias string, err error) {
	name, alias, ok := strings.Cut(l, ":")
	// "/db:/me/database", dockerd's own form: the last element.
	name, alias = strings.TrimPrefix(name, "/"), path.Base("/"+alias)
	if !ok {
		alias = name
	}
	if name == "" {
		return "", "", invalid("invalid link %q", l)
	}
	return name, alias, nil
}

// linkAliases are links (NAME:ALIAS) as the DNS server takes them:
// alias -> name.
func linkAliases(links []string) map[string]string {
	if len(links) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, l := range links {
		if name, alias, err := splitLink(l); err == nil {
			out[alias] = name
		}
	}
	return out
}

// legacyLinks are e's legacy links, "ID:alias": as created, or as the
// last docker rm --link left them.
func (e *entry) legacyLinks() []string {
	if p := e.links.Load(); p != nil {
		return *p
	}
	if e.rec == nil {
		return nil
	}
	return e.rec.HostConfig.Links
}

// linksMu serializes docker rm --link with itself: each reads a
// container's links and writes them back.
var linksMu sync.Mutex

// ContainerRemoveLink removes the legacy link /LINKER/ALIAS (docker rm
// --link), as dockerd 20.10 does (TestSameAsDockerd_RemoveLink): the
// linker's record loses it, so its next start and every exec from now
// on get neither the alias's hosts line nor its variables, and a
// running linker's /etc/hosts loses the line at once. The target is
// not touched. A name without a linker ("/db") is the container's own
// name, which cannot be removed this way.
func (d *Daemon) ContainerRemoveLink(ctx context.Context, name string) error {
	name = "/" + strings.TrimPrefix(name, "/")
	parent, alias := path.Split(name)
	if parent == "/" {
		return errdefs.ErrConflict.WithMessage("Conflict, cannot remove the default link name of the container")
	}
	noSuch := errdefs.ErrNotFound.WithMessage("No such container: " + strings.TrimPrefix(name, "/"))
	linker, err := d.lookup(strings.Trim(parent, "/"))
	if err != nil || linker.rec == nil {
		return noSuch
	}
	linksMu.Lock()
	defer linksMu.Unlock()
	links := linker.legacyLinks()
	kept := slices.DeleteFunc(slices.Clone(links), func(l string) bool {
		_, a, _ := strings.Cut(l, ":")
		return a == alias
	})
	if len(kept) == len(links) {
		return noSuch
	}
	rec := *linker.rec
	rec.HostConfig.Links = kept
	if r := linker.hostRes.Load(); r != nil {
		rec.HostConfig.Resources = *r // a docker update's, kept
	}
	if err := rewriteRecord(linker.c.Dir(), &rec); err != nil {
		return fmt.Errorf("removing link %s: %w", name, err)
	}
	linker.links.Store(&kept)
	linker.forgetView()
	if linker.c.Running() {
		hostsMu.Lock()
		defer hostsMu.Unlock()
		_, hosts, _ := dns.Paths(linker.c.Dir())
		if data, err := os.ReadFile(hosts); err == nil {
			var out []string
			for _, line := range strings.SplitAfter(string(data), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[1] == alias {
					continue
				}
				out = append(out, line)
			}
			if err := os.WriteFile(hosts, []byte(strings.Join(out, "")), 0o644); err != nil {
				return fmt.Errorf("removing link %s from %s: %w", name, hosts, err)
			}
		}
	}
	return nil
}
