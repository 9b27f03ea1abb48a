package cgroup

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// Apply limits the container c with r: it creates the cgroup named id
// under parent ("" for DefaultParent) now,
// joins the container's init to it while init waits for its spec (so the
// command is born inside the limits), and, once the container is gone,
// reports an out-of-memory kill on the container's stderr and removes the
// cgroup.
func Apply(c *namespace.Container, parent, id string, r Resources) (*Cgroup, error) {
	h, err := System()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", id, err)
	}
	under := h.Under(parent)
	under.Explain = c.Config.Trace // --explain
	cg, err := under.New(id, r)
	if err != nil {
		return nil, err
	}
	c.OnStart(cg.Add)
	c.OnExit(func() error {
		if oom, _ := cg.OOMKilled(); oom && c.Stdio.Err != nil {
			fmt.Fprintf(c.Stdio.Err, "berth: the container was killed: out of memory (limit %s)\n", FormatBytes(r.Memory))
		}
		return cg.Destroy()
	})
	return cg, nil
}

// RunOptions are the flags of chapter 02's run: chapter 01's and the
// limits. Later chapters embed them in their own.
type RunOptions struct {
	namespace.Config
	Limits Resources
	// NoCgroup runs the container without a cgroup of its own. Only a
	// daemon that cannot make cgroups sets it: an ordinary user's
	// (final/rootless), on a host that delegates no cgroup to users.
	// Then nothing limits, accounts for or freezes the container, so
	// Container refuses any limit rather than ignore it.
	NoCgroup bool `json:",omitempty"`
	// Ulimits and OOMScoreAdj limit each process rather than the group
	// (rlimit.go): init sets them on itself.
	Ulimits     UlimitList
	OOMScoreAdj int
	// CgroupParent is where the container's cgroup goes (CleanParent);
	// "" is DefaultParent. A detached container's options are kept
	// (chapter 07), so Cleanup finds the cgroup again where it was made.
	CgroupParent string `json:",omitempty"`
}

// AddFlags registers the flags of chapters 01 and 02 on fs.
func (o *RunOptions) AddFlags(fs *flag.FlagSet) {
	o.Config.AddFlags(fs)
	o.Limits.AddFlags(fs)
	fs.Var(&o.Ulimits, "ulimit", "a resource limit of each process: NAME=SOFT[:HARD], -1 for unlimited (repeatable)")
	fs.IntVar(&o.OOMScoreAdj, "oom-score-adj", 0, "how eagerly the kernel kills the container's processes when memory runs out (-1000 to 1000)")
	fs.StringVar(&o.CgroupParent, "cgroup-parent", "", "the parent cgroup of the container's, relative to the hierarchies' roots (default "+DefaultParent+")")
}

// NewSpec is chapter 01's spec with the per-process limits added, for
// init to set on itself. Later chapters build their specs on it.
func (o *RunOptions) NewSpec(id string, command []string) (namespace.Spec, error) {
	if err := CheckOOMScoreAdj(o.OOMScoreAdj); err != nil {
		return namespace.Spec{}, err
	}
	rl, err := Rlimits(o.Ulimits)
	if err != nil {
		return namespace.Spec{}, err
	}
	s := o.Config.NewSpec(id, command)
	s.Rlimits, s.OOMScoreAdj = rl, o.OOMScoreAdj
	return s, nil
}

// Container is chapter 01's container, in a cgroup with the limits.
func (o *RunOptions) Container(id string, command []string, stdio namespace.Stdio) (*namespace.Container, error) {
	// A device policy of its own (Devices not nil) needs a cgroup too;
	// nil, Docker's default, is what a user namespace enforces anyway:
	// its root can make no device node, only bind the host's.
	if o.NoCgroup && (o.Limits.Memory != 0 || o.Limits.CPUs != 0 || o.Limits.PidsMax != 0 || o.Limits.Devices != nil) {
		return nil, fmt.Errorf("container %s: limits %+v need a cgroup, and this container gets none", id, o.Limits)
	}
	spec, err := o.NewSpec(id, command)
	if err != nil {
		return nil, err
	}
	c, err := o.Config.Container(id, command, stdio)
	if err != nil {
		return nil, err
	}
	c.Spec = spec
	if o.NoCgroup {
		return c, nil
	}
	if _, err := Apply(c, o.CgroupParent, id, o.Limits); err != nil {
		return nil, err
	}
	return c, nil
}

// Cleanup undoes, after the container with ID id has exited, what
// Container set up for one run, without the Container at hand: a
// detached container is cleaned up by another process than the one that
// started it (chapter 07's shim), maybe after a restart. It reports
// whether the container was killed for lack of memory. A cgroup that is
// already gone is no error: Cleanup may run twice.
func (o *RunOptions) Cleanup(id string) (oomKilled bool, err error) {
	if o.NoCgroup {
		return false, nil
	}
	h, err := System()
	if err != nil {
		return false, fmt.Errorf("cgroup %s: %w", id, err)
	}
	cg, err := h.Under(o.CgroupParent).Load(id)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	oomKilled, _ = cg.OOMKilled()
	return oomKilled, cg.Destroy()
}
