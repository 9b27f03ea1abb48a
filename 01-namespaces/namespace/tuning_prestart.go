// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists. Nothing here changes what a container is: without it, Start
// forks a new init every time, as process.go shows.

package namespace

import (
	"encoding/json"
	"sync"
)

// An init started ahead of need.
//
// Start forks init in new namespaces, and init is this program executed
// again: before it can read its spec, the kernel maps the binary, the Go
// runtime starts, the packages initialise. For a big program that is a
// few milliseconds, and a container engine pays them at every start.
// None of it depends on the container: init only waits for its spec. So
// a program that knows a start is coming (chapter 07's spare shims, which
// wait for their container) may start init in advance with Prestart; the
// next Start with the same configuration and the same stdio takes it,
// and the caller goes on as usual (hooks, then Release). A Start that
// does not fit forks a new init as always, and DiscardPrestarted kills
// the one that nobody took.

// prestarted is the init Prestart keeps, with what it was started with.
var prestarted struct {
	sync.Mutex
	p     *Process
	key   prestartKey
	stdio Stdio
}

// prestartKey is what of a Config decides how init is forked.
type prestartKey struct {
	flags            uintptr
	detached, userNS bool
	uids, gids       IDRange
	joinNetns        string
	joinPidns        string
	joinIpcns        string
	joinUtsns        string
	joinCgroupns     string
	hostUTS          bool
	joinMntns        string
}

func keyOf(cfg Config) prestartKey {
	return prestartKey{flags: cfg.cloneFlags(), detached: cfg.Detached, userNS: cfg.UserNS, uids: cfg.UIDRange(), gids: cfg.GIDRange(), joinNetns: cfg.JoinNetns, joinPidns: cfg.JoinPidns, joinIpcns: cfg.JoinIpcns, joinUtsns: cfg.JoinUtsns, joinCgroupns: cfg.JoinCgroupns, hostUTS: cfg.HostUTS, joinMntns: cfg.JoinMntns}
}

// Prestart starts an init as Start would, and keeps it for the next Start
// whose Config forks the same way and whose Stdio holds the same files.
// An init kept before is killed.
func Prestart(cfg Config, stdio Stdio) error {
	p, err := start(cfg, stdio, warmArg)
	if err != nil {
		return err
	}
	prestarted.Lock()
	old := prestarted.p
	prestarted.p, prestarted.key, prestarted.stdio = p, keyOf(cfg), stdio
	prestarted.Unlock()
	if old != nil {
		_ = old.Kill()
	}
	return nil
}

// takePrestarted returns the kept init if it fits, and forgets it.
func takePrestarted(cfg Config, stdio Stdio) *Process {
	prestarted.Lock()
	defer prestarted.Unlock()
	p := prestarted.p
	// Files are given at the fork: an init started before has none.
	if p == nil || prestarted.key != keyOf(cfg) || prestarted.stdio != stdio || len(cfg.Files) > 0 || len(cfg.InitEnv) > 0 || cfg.NoPrestart || cfg.Exe != nil {
		return nil
	}
	prestarted.p = nil
	return p
}

// DiscardPrestarted kills the init that Prestart kept, if no Start took
// it.
func DiscardPrestarted() {
	prestarted.Lock()
	p := prestarted.p
	prestarted.p = nil
	prestarted.Unlock()
	if p != nil {
		_ = p.Kill()
	}
}

// warmArg is the argument of an init started ahead of need: it warms
// its decoder while it waits (warmDecoder). An init forked for a start
// at hand reads its spec at once, and warming would only add the
// encoding of a zero spec to its start (final/ociruntime's create).
const warmArg = "--warm"

// warmDecoder has encoding/json build its decoder for v's type before the
// spec comes. The first decoding of a type builds the decoder by
// reflection: ten times the cost of every later one. An init started
// ahead of need waits in ReadSpec long before its spec comes, so it
// decodes a zero value of its own first, and the spec's decoding then
// costs the start only the rest.
func warmDecoder(v any) {
	if zero, err := json.Marshal(v); err == nil {
		_ = json.Unmarshal(zero, v)
	}
}
