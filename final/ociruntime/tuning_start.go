// Engine tuning: skip on first reading. Without it, create does the same
// work, one step after the other.

package ociruntime

import (
	"encoding/json"
	"os"
	"reflect"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Work of create's that waits for nothing of the container's, done
// beside what does.
//
// Go's os package checks once per program, at its first start of a
// process, that the kernel's pidfd calls work: it opens a pidfd of
// itself, and clones and reaps a child that exits at once. Some 0.3 ms,
// which create would pay inside namespace.Start, between reading the
// bundle and init's fork, on the path of every container. Asked for in
// a goroutine as soon as create begins (os.FindProcess of this process
// makes the same check), it is done while the bundle is read.
func warmPidfdCheck() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release()
	}
}

// initTuning is init's environment beyond the glibc tunable create.go
// sets, read by init's Go runtime only (the process gets process.env at
// the exec):
//
//   - GOGC=off: init lives for milliseconds and allocates a few hundred
//     kilobytes; a collection would be pure cost.
//   - GOMAXPROCS=1: init's work is one thread's (it is locked to it for
//     the namespaces and credentials); fewer threads start, and fewer
//     are there to be stopped when the process's execve ends them all.
var initTuning = []string{"GOGC=off", "GOMAXPROCS=1"}

// Init forked while the bundle is checked.
//
// Init needs milliseconds from its fork to its first instruction of
// ours (the kernel maps the binary, the Go runtime and the packages
// start), and all that time it only waits for its spec. What create
// does before the fork, on the other hand, is mostly decoding
// config.json: encoding/json builds its decoder for the spec's types by
// reflection at a program's first decoding, most of a millisecond. Yet
// only linux.namespaces and the id mappings decide how init is forked.
// So create reads just those (forkConfig: a small type, decoded in
// microseconds), forks init, and decodes, checks and translates the
// whole bundle, then makes the cgroup, in a goroutine meanwhile
// (prepareBundle):
//
//	create ──readBundle──forkConfig──mkdir, FIFO──fork init────────────wait──Add──spec──►
//	            └─ goroutine: checkBundle ──(claimed)── createCgroup ────┘
//	init                                        └─ exec, Go runtime start ──── ReadSpec ──►
//
// A bundle that fails its checks is refused with the same error as
// before; init, forked already, is killed and the state directory
// removed, as after any failure. The cgroup is made only once the state
// directory, the claim on the ID, is this create's (claimed): another
// create of the same ID must not touch that one's cgroup. Should the
// whole decoding fork otherwise than forkConfig (sameFork), init is
// forked again.

// forkConfig decodes only what decides how init is forked, and
// translates it as namespaceConfig does; false when that cannot be
// done on its own (checkBundle then comes first), or when the process
// has a terminal: its console socket, or socket pair, is one of init's
// descriptors, set up only for a bundle that passed its checks.
func forkConfig(raw []byte) (namespace.Config, bool) {
	var part struct {
		Process *struct {
			Terminal bool `json:"terminal"`
		} `json:"process"`
		Linux *struct {
			Namespaces  []specs.LinuxNamespace `json:"namespaces"`
			UIDMappings []specs.LinuxIDMapping `json:"uidMappings"`
			GIDMappings []specs.LinuxIDMapping `json:"gidMappings"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(raw, &part); err != nil || part.Linux == nil || part.Process == nil || part.Process.Terminal {
		return namespace.Config{}, false
	}
	l := part.Linux
	cfg, _, err := namespaceConfig(&specs.Spec{
		Process: &specs.Process{},
		Linux:   &specs.Linux{Namespaces: l.Namespaces, UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings},
	})
	return cfg, err == nil
}

// sameFork tells whether init forked with a forks as b says, whatever
// was set on a for the fork itself.
func sameFork(a, b namespace.Config) bool {
	a.Files, a.Exe, a.InitEnv, a.Detached, a.NoPrestart = b.Files, b.Exe, b.InitEnv, b.Detached, b.NoPrestart
	return reflect.DeepEqual(a, b)
}

// preparedBundle is checkBundle's result and then the cgroup's.
type preparedBundle struct {
	*checkedBundle
	err    error
	cg     *cgroup.Cgroup // set before cgMade is sent on
	cgMade chan error
}

// prepareBundle runs checkBundle in a goroutine, then, if the bundle
// passes and claimed says true, makes the container's cgroup.
func prepareBundle(dir string, raw []byte, o CreateOptions, claimed <-chan bool) <-chan *preparedBundle {
	out := make(chan *preparedBundle, 1)
	go func() {
		pb := &preparedBundle{cgMade: make(chan error, 1)}
		pb.checkedBundle, pb.err = checkBundle(dir, raw, o)
		out <- pb
		if pb.err != nil {
			return
		}
		if ok := <-claimed; !ok {
			pb.cgMade <- nil
			return
		}
		cg, err := createCgroup(pb.bundle.Spec, o.ID)
		pb.cg = cg
		pb.cgMade <- err
	}()
	return out
}
