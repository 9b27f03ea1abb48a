//go:build cgo

package ociruntime

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPs_Live: the container's processes are its cgroup's, as host PIDs
// and as ps(1)'s table.
func TestPs_Live(t *testing.T) {
	c := startLiveContainer(t)
	pids, err := Pids(c.root, c.id)
	require.NoError(t, err)
	assert.Equal(t, []int{c.pid}, pids)

	var b bytes.Buffer
	require.NoError(t, PsTable(&b, c.root, c.id, nil))
	lines := bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n"))
	require.Len(t, lines, 2, b.String())
	assert.Contains(t, string(lines[0]), "PID")
	assert.Contains(t, string(lines[1]), " "+strconv.Itoa(c.pid)+" ")
	assert.Contains(t, string(lines[1]), "sleep 600")

	b.Reset()
	require.NoError(t, PsTable(&b, c.root, c.id, []string{"-o", "pid,comm"}))
	assert.Contains(t, b.String(), "sleep")
}

// TestFilterPs: the header and the lines of the container's PIDs stay,
// found by the PID column whatever the format.
func TestFilterPs(t *testing.T) {
	for name, tc := range map[string]struct {
		table string
		pids  []int
		want  string
		err   string
	}{
		"ef": {
			table: "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 600\n",
			pids:  []int{42},
			want:  "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sleep 600\n",
		},
		"pid first": {table: "  PID COMMAND\n    7 sh\n    8 ps\n", pids: []int{8}, want: "  PID COMMAND\n    8 ps\n"},
		"none":      {table: "PID CMD\n1 init\n", pids: nil, want: "PID CMD\n"},
		"no pid":    {table: "USER CMD\nroot init\n", err: "no PID column"},
		"empty":     {table: "", err: "no output"},
		"garbage":   {table: "PID CMD\nx init\n", err: `PID "x"`},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := filterPs([]byte(tc.table), tc.pids)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}
