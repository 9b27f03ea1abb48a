//go:build cgo

package ociruntime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// TestEvents_Live: --stats prints one stats event in runc's shape; the
// stream prints them until the container's init is gone, then ends.
func TestEvents_Live(t *testing.T) {
	c := startLiveContainer(t)
	var b bytes.Buffer
	require.NoError(t, Events(c.root, c.id, 0, true, &b))
	var ev map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &ev), b.String())
	assert.Equal(t, "stats", ev["type"])
	assert.Equal(t, c.id, ev["id"])
	data := ev["data"].(map[string]any)
	assert.Equal(t, float64(1), data["pids"].(map[string]any)["current"])
	assert.Contains(t, data["memory"].(map[string]any), "usage")
	assert.Contains(t, data["cpu"].(map[string]any)["usage"].(map[string]any), "total")

	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Events(c.root, c.id, 10*time.Millisecond, false, w)
		w.Close()
	}()
	lines := bufio.NewScanner(r)
	require.True(t, lines.Scan())
	assert.Contains(t, lines.Text(), `"type":"stats"`)
	c.stop()
	for lines.Scan() {
	}
	require.NoError(t, <-done, "the stream ends with the container")

	assert.ErrorContains(t, Events(c.root, c.id, time.Second, false, io.Discard), "not running")
}

// TestEvents_OOM: a process of the container killed by the OOM killer
// is an "oom" event.
func TestEvents_OOM(t *testing.T) {
	c := startLiveContainer(t)
	require.NoError(t, Update(c.root, c.id, (UpdateFlags{Memory: ptr(int64(16 << 20))}).Apply(nil)))
	var b bytes.Buffer
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Events(c.root, c.id, 10*time.Millisecond, false, w)
		w.Close()
	}()
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&b, r); close(copied) }()

	p := testProcess()
	// tail keeps the last line, and /dev/zero has no line end.
	p.Args = []string{"sh", "-c", "head -c 256m /dev/zero | tail -n 1"}
	_, status := c.run(t, p, ExecOptions{})
	assert.NotEqual(t, 0, status)
	c.stop()
	require.NoError(t, <-done)
	<-copied
	assert.Contains(t, b.String(), `{"type":"oom","id":"`+c.id+`"}`)
}

// TestStatsOf: chapter 02's counters under runc's names; what is not
// known is left out.
func TestStatsOf(t *testing.T) {
	s := statsOf(cgroup.Stats{CPUUsage: 2 * time.Second, MemoryUsage: 100, MemoryPeak: 200, Pids: 3, PidsLimit: 0,
		MemoryStat: map[string]int64{"cache": 7}, IO: []cgroup.DeviceIO{{Major: 8, Minor: 0, Read: 5, Write: 6}}})
	b, err := json.Marshal(Event{Type: "stats", ID: "x", Data: s})
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"stats","id":"x","data":{
		"cpu":{"usage":{"total":2000000000}},
		"memory":{"cache":7,"usage":{"usage":100,"max":200},"raw":{"cache":7}},
		"pids":{"current":3},
		"blkio":{"ioServiceBytesRecursive":[{"major":8,"minor":0,"op":"Read","value":5},{"major":8,"minor":0,"op":"Write","value":6}]}}}`, string(b))
	b, err = json.Marshal(Event{Type: "oom", ID: "x"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"oom","id":"x"}`, string(b))
}
