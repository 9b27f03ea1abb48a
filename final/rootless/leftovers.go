package rootless

import (
	"errors"
	"fmt"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The containers of a rootless berthd live in its user namespace, which
// the parent created. They would outlive the daemon (they do under a
// berthd with root), but without their network, which slirp4netns gave,
// and out of reach of the next rootless berthd: that one gets namespaces
// of its own, and no capability in these. So they go with the daemon:
// the parent kills what is left in the namespace once the daemon has
// exited, and the next berthd finds them dead and cleans up after them,
// as after a reboot.
//
// The user owns the namespace, so the parent, outside it, has every
// capability in it: it may read /proc/PID/ns/user of any process in it
// and signal it. A parent that was killed itself (kill -9) cannot: it
// leaves the namespace's name in nsFile, and the next parent kills what
// is left in it (killLeftovers).

// nsFile, in the exec root, names the user namespace of the running
// rootless berthd ("user:[4026532176]").
const nsFile = "rootless.userns"

// inNamespace returns the processes in the user namespace userns.
func inNamespace(userns string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("rootless: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/user"); err == nil && ns == userns {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killNamespace kills every process in the user namespace userns, and
// returns once none is left.
func killNamespace(userns string) error {
	// A killed process keeps its namespaces until its exit is done,
	// which may take the kernel a while (a network namespace's
	// teardown): look again until none is left.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		left, err := inNamespace(userns)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		for _, pid := range left {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		// A process forked while we looked is killed next round.
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("rootless: processes are still left in %s", userns)
}

// killLeftovers kills what a rootless berthd that was killed left in its
// namespace, named by nsFile in execRoot. The kernel gives a freed
// namespace's number to the next one made, maybe by another program of
// the user's; so the namespace counts as berth's only if one of its
// processes runs exe, berthd's binary (a shim does).
func killLeftovers(execRoot, exe string) error {
	file := filepath.Join(execRoot, nsFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rootless: %w", err)
	}
	userns := strings.TrimSpace(string(data))
	pids, err := inNamespace(userns)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		// berthd's binary, or the sealed copy its shims and inits start
		// from (chapter 01's exe.go).
		if err == nil && (strings.TrimSuffix(link, " (deleted)") == exe || link == namespace.SealedPath) {
			if err := killNamespace(userns); err != nil {
				return err
			}
			break
		}
	}
	if err := os.Remove(file); err != nil {
		return fmt.Errorf("rootless: %w", err)
	}
	return nil
}
