package shim

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Process is one process of a container, as the host sees it.
type Process struct {
	PID  int    // the host's PID
	PPID int    // the host's PID of its parent
	CPID int    // its PID inside the container (1 for init)
	UID  int    // its real uid on the host
	Stat string // R running, S sleeping, Z zombie... (as ps shows it)
	Cmd  string // its command line, or [comm] if it has none
}

// Top lists the container's processes (docker top, S36). A container's
// processes are exactly those in its init's PID namespace, so Top reads
// /proc/<pid>/ns/pid of every process on the host and keeps those that
// point to the same namespace as init's.
func (c *Container) Top() ([]Process, error) {
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	if st.Status != Running {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRunning, c.Name(), st.Status)
	}
	initNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if err != nil {
		return nil, fmt.Errorf("container %s: its PID namespace: %w", c.Name(), err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var procs []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "pid"))
		if err != nil || ns != initNS {
			continue // gone meanwhile, or another namespace
		}
		p, err := readProcess(pid)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	slices.SortFunc(procs, func(a, b Process) int { return a.PID - b.PID })
	return procs, nil
}

// readProcess reads what Top shows of one process from /proc/<pid>/status
// and cmdline.
func readProcess(pid int) (Process, error) {
	p := Process{PID: pid}
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return p, err
	}
	var name string
	for _, line := range strings.Split(string(status), "\n") {
		key, value, _ := strings.Cut(line, ":")
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch key {
		case "Name":
			name = fields[0]
		case "State":
			p.Stat = fields[0]
		case "PPid":
			p.PPID, _ = strconv.Atoi(fields[0])
		case "Uid":
			p.UID, _ = strconv.Atoi(fields[0])
		case "NSpid":
			// One PID per nested namespace, the innermost last.
			p.CPID, _ = strconv.Atoi(fields[len(fields)-1])
		}
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return p, err
	}
	p.Cmd = strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	if p.Cmd == "" {
		p.Cmd = "[" + name + "]"
	}
	return p, nil
}
