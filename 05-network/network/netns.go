package network

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// InNetns runs fn on an OS thread that has entered the network namespace
// nsPath names (/proc/PID/ns/net, or /proc/self/fd/N for an open one).
// Sockets that fn creates belong to that namespace for good, and so do
// the interfaces and routes it changes through netlink. fn must not start
// goroutines: they would run on other threads, in the host's namespace.
//
// Namespaces belong to threads, not processes, and the Go runtime moves
// goroutines between threads as it likes (pitfall 4). So fn runs in a
// goroutine of its own, locked to its thread, and the thread goes back
// into the runtime's pool only after it has returned to the namespace it
// came from. If even that fails, the goroutine ends still locked, and
// the runtime terminates the thread instead of reusing it.
//
// Why not simply let the thread die every time? Because the kernel ties
// a child's parent-death signal (chapter 01 sets Pdeathsig, so that a
// container dies with its program) to the thread that forked it, not to
// the process: a thread that dies takes with it every container it ever
// started. A test in this package shows it.
func InNetns(nsPath string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := namespace.EnterNetns(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		ferr := fn()
		if err := namespace.LeaveNetns(home); err != nil {
			// Stuck in the other namespace: keep the lock, so that
			// the thread ends with this goroutine.
			done <- errors.Join(ferr, err)
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

// NetnsHandle returns a netlink handle whose sockets live in the network
// namespace nsPath: every request made through it acts on that namespace,
// from whatever thread it is sent, because a netlink socket belongs to the
// namespace it was created in. Close it when done.
func NetnsHandle(nsPath string) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := InNetns(nsPath, func() (err error) {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink socket in %s: %w", nsPath, err)
		}
		return nil
	})
	return h, err
}

// nsPath is the network namespace of process pid.
func nsPath(pid int) string { return fmt.Sprintf("/proc/%d/ns/net", pid) }
