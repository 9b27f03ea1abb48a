package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parsedUpdate is the registered update command with args parsed, its
// flags reset first.
func parsedUpdate(t *testing.T, args ...string) *cobra.Command {
	t.Helper()
	var c *cobra.Command
	for _, cmd := range root.Commands() {
		if cmd.Name() == "update" {
			c = cmd
		}
	}
	require.NotNil(t, c)
	c.Flags().VisitAll(func(f *pflag.Flag) { f.Changed = false; _ = f.Value.Set(f.DefValue) })
	require.NoError(t, c.Flags().Parse(args))
	return c
}

// TestUpdateRequest: runc's update flags as linux.resources, the
// --resources document, and the refusals.
func TestUpdateRequest(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, os.WriteFile(doc, []byte(`{"memory":{"limit":104857600},"cpu":{"shares":512}}`), 0o644))
	for name, tc := range map[string]struct {
		args  []string
		stdin string
		check func(t *testing.T, r *specs.LinuxResources)
		err   string
	}{
		"flags": {args: []string{"--memory", "64m", "--memory-reservation", "32m", "--memory-swap", "-1", "--cpu-share", "256",
			"--cpu-quota", "50000", "--cpu-period", "100000", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "20", "--blkio-weight", "300"},
			check: func(t *testing.T, r *specs.LinuxResources) {
				assert.Equal(t, int64(64<<20), *r.Memory.Limit)
				assert.Equal(t, int64(32<<20), *r.Memory.Reservation)
				assert.Equal(t, int64(-1), *r.Memory.Swap)
				assert.Equal(t, uint64(256), *r.CPU.Shares)
				assert.Equal(t, int64(50000), *r.CPU.Quota)
				assert.Equal(t, uint64(100000), *r.CPU.Period)
				assert.Equal(t, "0", r.CPU.Cpus)
				assert.Equal(t, "0", r.CPU.Mems)
				assert.Equal(t, int64(20), r.Pids.Limit)
				assert.Equal(t, uint16(300), *r.BlockIO.Weight)
			}},
		"cpu-shares alias": {args: []string{"--cpu-shares", "100"}, check: func(t *testing.T, r *specs.LinuxResources) {
			assert.Equal(t, uint64(100), *r.CPU.Shares)
			assert.Nil(t, r.Memory, "only what was given")
		}},
		"document": {args: []string{"--resources", doc}, check: func(t *testing.T, r *specs.LinuxResources) {
			assert.Equal(t, int64(100<<20), *r.Memory.Limit)
			assert.Equal(t, uint64(512), *r.CPU.Shares)
		}},
		"stdin": {args: []string{"-r", "-"}, stdin: `{"pids":{"limit":5}}`, check: func(t *testing.T, r *specs.LinuxResources) {
			assert.Equal(t, int64(5), r.Pids.Limit)
		}},
		"document and flags": {args: []string{"--resources", doc, "--memory", "64m"}, err: "--memory: not with --resources"},
		"kernel memory":      {args: []string{"--kernel-memory", "1m"}, err: "--kernel-memory: not supported"},
		"rt":                 {args: []string{"--cpu-rt-runtime", "10"}, err: "--cpu-rt-runtime: not supported"},
		"rdt":                {args: []string{"--l3-cache-schema", "L3:0=f"}, err: "--l3-cache-schema: not supported"},
		"bad memory":         {args: []string{"--memory", "lots"}, err: "--memory"},
		"bad quota":          {args: []string{"--cpu-quota", "x"}, err: `--cpu-quota "x"`},
		"bad weight":         {args: []string{"--blkio-weight", "70000"}, err: "--blkio-weight"},
		"bad document":       {args: []string{"-r", "-"}, stdin: `{`, err: "--resources -"},
		"unknown property":   {args: []string{"-r", "-"}, stdin: `{"memory":{"limt":1}}`, err: `unknown field "limt"`},
		"missing document":   {args: []string{"-r", "/no/such/file"}, err: "--resources"},
	} {
		t.Run(name, func(t *testing.T) {
			c := parsedUpdate(t, tc.args...)
			res, _ := c.Flags().GetString("resources")
			r, err := updateRequest(c.Flags(), res, strings.NewReader(tc.stdin))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			tc.check(t, r)
		})
	}
}
