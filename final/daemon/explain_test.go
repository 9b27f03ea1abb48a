package daemon

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// debugLog is a debug log a test can read while the daemon writes it.
type debugLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *debugLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// steps returns the explain steps logged for the container whose short
// ID is id, in the order they were logged.
func (l *debugLog) steps(t *testing.T, id string) []explain.Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []explain.Line
	for _, rec := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var r struct{ Msg, Container, Step string }
		require.NoError(t, json.Unmarshal([]byte(rec), &r), "%s", rec)
		if r.Msg != "explain" || r.Container != id {
			continue
		}
		line, ok := explain.Parse(r.Step)
		require.True(t, ok, "a step that does not parse: %q", r.Step)
		out = append(out, line)
	}
	return out
}

// berthd --debug logs each start's steps, as the shim made them: the
// shim's own, the host's (cgroup, network) and init's.
func TestDebugLogsTheExplainTraceOfEachStart(t *testing.T) {
	l := prepareLab(t)
	var log debugLog
	l.opts.Explain = slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.start()
	id := strings.TrimSpace(l.ok("run", "-d", "busybox", "true"))
	l.seen[id] = true
	l.wait(id)
	steps := log.steps(t, id[:12])
	assert.Empty(t, explain.FirstMissing(steps,
		"shim", "log", "write:cgroup.procs", "mount:MS_PRIVATE", "mount:overlay on", "pivot_root", "seccomp", "capset"), "%+v", steps)
	assert.Empty(t, explain.FirstMissing(steps, "clone", "netlink:RTM_NEWLINK veth", "nft"), "%+v", steps)

	// A second start is traced anew.
	l.ok("start", id)
	l.wait(id)
	assert.Len(t, log.steps(t, id[:12]), 2*len(steps), "one trace per start")
}

// Without --debug, the label asks for the trace (berth run --explain):
// the shim keeps it in the container's directory, and nothing is logged.
func TestExplainLabelKeepsTheTraceInTheContainersDirectory(t *testing.T) {
	l := newLab(t)
	id := strings.TrimSpace(l.ok("run", "-d", "--label", ExplainLabel+"=true", "busybox", "true"))
	l.seen[id] = true
	l.wait(id)
	b, err := os.ReadFile(filepath.Join(l.opts.DataRoot, "containers", id, "explain.log"))
	require.NoError(t, err)
	assert.Empty(t, explain.FirstMissing(explain.Lines(string(b)), "shim", "clone", "pivot_root"), "%s", b)

	other := strings.TrimSpace(l.ok("run", "-d", "busybox", "true"))
	l.seen[other] = true
	l.wait(other)
	_, err = os.Stat(filepath.Join(l.opts.DataRoot, "containers", other, "explain.log"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no trace unless asked")
}
