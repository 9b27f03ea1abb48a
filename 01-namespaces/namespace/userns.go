package namespace

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// A user namespace held by a file.
//
// A namespace lives as long as a process is in it or a file holds it
// open: /proc/PID/ns/user is such a file. Chapter 04's idmapped mounts
// need a user namespace with the container's mapping before the
// container exists, because the mounts are handed to its init at the
// fork. Any user namespace with the same uid_map and gid_map will do: a
// mount idmapped with it shows host uid 0 as the namespace's base, and
// the container's own namespace, with the same map, sees that as 0.
//
// UserNamespace forks a throwaway process into a new user namespace with
// the config's mapping, opens its /proc/PID/ns/user and kills it. The
// process is this program again as a container init (as Start forks it),
// which does nothing but wait for a spec that never comes: no other
// binary is needed on the host, and Go cannot fork without an exec.
//
//	host                         throwaway init
//	----                         --------------
//	fork, CLONE_NEWUSER  ----->  waits on fd 3
//	write uid_map, gid_map
//	open /proc/PID/ns/user
//	SIGKILL, wait        ----->  gone; the namespace stays, held by the file

// UserNamespace returns a file that holds a new user namespace with the
// config's uid and gid mapping (UIDRange, GIDRange). Close it when done.
func (c *Config) UserNamespace() (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("user namespace: spec pipe: %w", err)
	}
	defer w.Close()
	defer r.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{InitName},
		Env:        []string{},
		ExtraFiles: []*os.File{r},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: idMappings(c.UIDRange()),
			GidMappings: idMappings(c.GIDRange()),
			Pdeathsig:   syscall.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("user namespace %v/%v: %w", c.UIDRange(), c.GIDRange(), err)
	}
	// The maps are written before Start returns: the child waits for
	// them before its exec.
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err != nil {
		return nil, fmt.Errorf("user namespace of pid %d: %w", cmd.Process.Pid, err)
	}
	return ns, nil
}
