// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists. Without it each container's device policy would load its own
// program (devices_apply.go): the same policy, a millisecond later.

package cgroup

import (
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
)

// Loading a device program (the kernel's verifier reads every
// instruction) is most of what a v2 device policy costs at a container's
// start: about 0.9 ms of the 1.0 to 1.5 ms that load and attach take
// together. The program depends only on the policy, and most containers
// have Docker's. So a process keeps each program it loaded, and attaches
// the same one again; an engine loads the default one ahead, in a spare
// process that waits for its container (PrepareDevices).

// programs are the loaded device programs of this process, by policy.
var programs struct {
	sync.Mutex
	byPolicy map[string]*ebpf.Program
}

// loadedDeviceProgram returns w's program, loaded on first use and kept
// for the life of the process: a cgroup holds its own reference to an
// attached program, so keeping ours costs one file descriptor.
func loadedDeviceProgram(w whitelist) (*ebpf.Program, error) {
	key := w.key()
	programs.Lock()
	defer programs.Unlock()
	if p := programs.byPolicy[key]; p != nil {
		return p, nil
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "berth_devices",
		Type:         ebpf.CGroupDevice,
		Instructions: deviceProgram(w),
		// The kernel only asks for a license before it lets a program
		// call helpers that are GPL-only; this one calls none.
		License: "Apache-2.0",
	})
	if err != nil {
		return nil, fmt.Errorf("load device program: %w", err)
	}
	if programs.byPolicy == nil {
		programs.byPolicy = map[string]*ebpf.Program{}
	}
	programs.byPolicy[key] = p
	return p, nil
}

// PrepareDevices loads, on a cgroup v2 host, the device program of rules
// (nil: Docker's default), so that a container of this process with that
// policy later only attaches it. On v1 it does nothing: the policy there
// is a few writes to the cgroup's files.
func PrepareDevices(rules []DeviceRule) error {
	h, err := System()
	if err != nil {
		return err
	}
	if h.Version != V2 {
		return nil
	}
	if rules == nil {
		rules = DefaultDevices()
	}
	w, err := devicePolicy(rules)
	if err != nil {
		return err
	}
	_, err = loadedDeviceProgram(w)
	return err
}

// key is the policy as text: equal policies make equal programs.
func (w whitelist) key() string {
	key := fmt.Sprint(w.allowAll)
	for _, r := range w.exceptions {
		key += "\n" + r.String()
	}
	return key
}
