package ociruntime

import (
	"fmt"
	"math"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Rlimits translates process.rlimits into what init sets with
// setrlimit (namespace.Setup). The names are the kernel's, RLIMIT_NOFILE
// and so on; chapter 02 knows the same sixteen limits by Docker's names
// (nofile), so each is handed to cgroup.Rlimits, which checks it as it
// checks a --ulimit. The spec's values are rlim_t: 2^64-1 is
// RLIM_INFINITY, Docker's -1.
//
// Refused: an unknown type, a type given twice (which of the two would
// hold?), a soft limit above the hard one (setrlimit's EINVAL, found at
// create rather than at start), a finite value above 2^63-1.
func Rlimits(r []specs.POSIXRlimit) ([]namespace.Rlimit, error) {
	if len(r) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	us := make([]cgroup.Ulimit, 0, len(r))
	for i, l := range r {
		name, ok := strings.CutPrefix(l.Type, "RLIMIT_")
		if !ok || name == "" || strings.ToUpper(name) != name {
			return nil, fmt.Errorf("process.rlimits[%d].type %q: not an RLIMIT_* name", i, l.Type)
		}
		if seen[l.Type] {
			return nil, fmt.Errorf("process.rlimits[%d].type %s: given twice", i, l.Type)
		}
		seen[l.Type] = true
		soft, err := rlimitValue(l.Soft)
		if err != nil {
			return nil, fmt.Errorf("process.rlimits[%d] %s soft: %w", i, l.Type, err)
		}
		hard, err := rlimitValue(l.Hard)
		if err != nil {
			return nil, fmt.Errorf("process.rlimits[%d] %s hard: %w", i, l.Type, err)
		}
		u := cgroup.Ulimit{Name: strings.ToLower(name), Soft: soft, Hard: hard}
		if _, err := cgroup.Rlimits([]cgroup.Ulimit{u}); err != nil {
			return nil, fmt.Errorf("process.rlimits[%d] %s: %w", i, l.Type, err)
		}
		us = append(us, u)
	}
	out, err := cgroup.Rlimits(us)
	if err != nil {
		return nil, fmt.Errorf("process.rlimits: %w", err)
	}
	return out, nil
}

// rlimitValue converts an rlim_t to Docker's form, -1 for unlimited.
func rlimitValue(v uint64) (int64, error) {
	if v == math.MaxUint64 {
		return -1, nil
	}
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%d: above 2^63-1 and not RLIM_INFINITY", v)
	}
	return int64(v), nil
}
