package shim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// launchedShim is a shim process seen from the program that launched it:
// the pipe of its report and, for a spare (tuning_spares.go), the pipe
// of its order.
type launchedShim struct {
	report *os.File // read end of the shim's report pipe
	orders *os.File // write end of a spare's order pipe; nil once given, and for any other shim
}

// launch starts a shim process for the container directory dir, with env
// added to its environment. With dir "" it starts a spare, a shim that
// waits for its container on an order pipe (engine tuning,
// tuning_spares.go).
func launch(dir string, env ...string) (*launchedShim, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("report pipe: %w", err)
	}
	files := []*os.File{w}
	var orders *os.File
	arg := dir
	if dir == "" {
		arg = spareDir
		or, ow, err := os.Pipe()
		if err != nil {
			r.Close()
			w.Close()
			return nil, fmt.Errorf("order pipe: %w", err)
		}
		defer or.Close()
		files, orders = append(files, or), ow
	}
	// The shim starts from the sealed copy of the program (chapter 01's
	// exe.go), and so does everything it starts from itself: the
	// container's init, which lives inside the container, and the
	// monitor. One copy, the caller's, serves every shim.
	exe, err := namespace.Executable()
	var null *os.File
	if err == nil {
		null, err = os.OpenFile(os.DevNull, os.O_RDWR, 0)
	}
	if err == nil {
		defer null.Close()
		cmd := &exec.Cmd{
			Path: exe,
			Args: []string{Name, phaseLaunch, arg},
			Env:  append(os.Environ(), env...),
			// The shim must not hold the caller's terminal: its
			// stdio is /dev/null, and its own errors go to
			// state.json.
			Stdin: null, Stdout: null, Stderr: null,
			ExtraFiles: files,
		}
		if err = cmd.Start(); err == nil {
			// The launched process exits as soon as it has forked
			// the shim.
			_ = cmd.Wait()
		}
	}
	w.Close()
	if err != nil {
		r.Close()
		if orders != nil {
			orders.Close()
		}
		return nil, err
	}
	return &launchedShim{report: r, orders: orders}, nil
}

// wait reads the shim's report on its start, to the end of the pipe: a
// shim whose start failed closes it only by exiting, and by then what it
// held (the writable layer's lock, say) is released, so the caller may
// remove the container at once.
func (s *launchedShim) wait() (report, error) {
	defer s.report.Close()
	var rep report
	data, err := io.ReadAll(s.report)
	if err != nil {
		return rep, fmt.Errorf("reading the shim's report: %w", err)
	}
	if len(data) == 0 || json.Unmarshal(data, &rep) != nil {
		return rep, fmt.Errorf("the shim exited without a report (%q)", data)
	}
	return rep, nil
}

// close lets a launched shim go unused: a spare reads end of file and
// exits.
func (s *launchedShim) close() {
	if s.orders != nil {
		s.orders.Close()
	}
	s.report.Close()
}
