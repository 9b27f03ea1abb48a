package seccomp

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// Compile compiles p for a container whose command keeps caps
// (capability names such as "CAP_SYS_ADMIN"; their order does not
// matter). A profile is compiled once per process for each set of
// capabilities: later calls return the same Filter, which must not be
// modified.
func Compile(p Profile, caps []string) (*Filter, error) {
	key := cacheKey(p, caps)
	cache.mu.Lock()
	f, ok := cache.m[key]
	cache.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := compile(p, caps, runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	cache.mu.Lock()
	if cache.m == nil {
		cache.m = map[[32]byte]*Filter{}
	}
	cache.m[key] = f
	cache.mu.Unlock()
	return f, nil
}

// cache holds the compiled filters. A profile's text can be large, so
// the key is a hash of it and of the capabilities.
var cache struct {
	mu sync.Mutex
	m  map[[32]byte]*Filter
}

func cacheKey(p Profile, caps []string) [32]byte {
	sorted := slices.Sorted(slices.Values(caps))
	h := sha256.New()
	fmt.Fprintf(h, "%t\x00%d\x00%s\x00%s", p.Unconfined, len(p.JSON), p.JSON, strings.Join(sorted, ","))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Load installs the filter on every thread of the calling process; the
// processes it starts afterwards inherit it, and no process can ever
// remove it. An Unconfined filter installs nothing.
//
// The kernel accepts a filter from a process that has CAP_SYS_ADMIN (in
// its user namespace) or has set no_new_privs. The reason: a filter can
// make a syscall fail that a setuid program counts on (setuid(2)
// refused, the program goes on as root), so an unprivileged process may
// filter only what cannot gain privileges any more. A container's init
// therefore loads the filter before it drops its capabilities, unless
// no-new-privileges is asked for anyway (see rootfs.InitSpec.Enter).
//
// SECCOMP_FILTER_FLAG_TSYNC applies the filter to all the threads at
// once: the Go runtime has several, and any of them may start the
// command.
func (f *Filter) Load() error {
	if f == nil {
		return errors.New("seccomp: no filter")
	}
	if f.Unconfined {
		explain.Inside().Step(explain.Seccomp, "seccomp", "unconfined: no filter loaded")
		return nil
	}
	if len(f.Program) == 0 || len(f.Program) > maxInsns {
		return fmt.Errorf("seccomp: a program of %d instructions (the kernel takes 1 to %d)", len(f.Program), maxInsns)
	}
	prog := unix.SockFprog{Len: uint16(len(f.Program)), Filter: &f.Program[0]}
	flags := f.Flags | unix.SECCOMP_FILTER_FLAG_TSYNC
	explain.Inside().Stepf(explain.Seccomp, "seccomp", "(SECCOMP_SET_MODE_FILTER, TSYNC): %d BPF instructions, compiled for %d capabilities", len(f.Program), len(f.Caps))
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	switch {
	case errno == unix.EACCES:
		return fmt.Errorf("seccomp: installing the filter: %w (neither CAP_SYS_ADMIN nor no_new_privs)", errno)
	case errno != 0:
		return fmt.Errorf("seccomp: installing the filter: %w", errno)
	case r != 0:
		// With TSYNC, a positive result is a thread that could not
		// take the filter (it has one of its own).
		return fmt.Errorf("seccomp: installing the filter: thread %d cannot be synchronized", r)
	}
	return nil
}
