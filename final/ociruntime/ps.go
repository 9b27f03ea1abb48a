package ociruntime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// Pids lists the host PIDs of every process of container id: those of
// its cgroup (chapter 02's Procs), which is what holds every process of
// a container, execs included, however they were started. containerd's
// shim asks for them (`ps --format json`) to list a task's processes
// and, for a container without its own PID namespace, to kill them all.
func Pids(root, id string) ([]int, error) {
	rec, err := Load(root, id)
	if err != nil {
		return nil, err
	}
	cg, err := recordCgroup(rec)
	if err != nil {
		return nil, err
	}
	pids, err := cg.Procs()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.ID, err)
	}
	return pids, nil
}

// PsTable writes the host's ps(1) table (ps run with psArgs, "-ef" when
// there are none) restricted to the container's processes: the header
// and the lines whose PID column names one of them, as `runc ps` does.
func PsTable(w io.Writer, root, id string, psArgs []string) error {
	pids, err := Pids(root, id)
	if err != nil {
		return err
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command("ps", psArgs...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ps %s: %w: %s", strings.Join(psArgs, " "), err, strings.TrimSpace(errOut.String()))
	}
	table, err := filterPs(out.Bytes(), pids)
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	_, err = w.Write(table)
	return err
}

// filterPs keeps the header of a ps table and the lines of pids. The
// PID column is found by its header; the fields before it are single
// words in every ps format that has one (USER, UID, F, S), so the PID
// is the same field of each line.
func filterPs(table []byte, pids []int) ([]byte, error) {
	lines := strings.Split(strings.TrimRight(string(table), "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil, errors.New("no output")
	}
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		return nil, fmt.Errorf("no PID column in %q", lines[0])
	}
	var b bytes.Buffer
	b.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil {
			return nil, fmt.Errorf("line %q: PID %q: %w", l, f[col], err)
		}
		if slices.Contains(pids, pid) {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes(), nil
}
