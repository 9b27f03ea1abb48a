//go:build manpages

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManPages: `berth-runtime docs man DIR`, as `make install` runs
// it, writes a page for berth-runtime and one for every command that
// --help lists, and none for the hidden docs command or cobra's
// completion command.
func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	root.SetArgs([]string{"docs", "man", dir})
	t.Cleanup(func() { root.SetArgs(nil) })
	require.NoError(t, root.Execute())

	want := map[string]bool{"berth-runtime.1": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
				continue
			}
			want[strings.ReplaceAll(sub.CommandPath(), " ", "-")+".1"] = true
			walk(sub)
		}
	}
	walk(root)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	got := map[string]bool{}
	for _, e := range entries {
		got[e.Name()] = true
		assert.NotContains(t, e.Name(), "docs", "the hidden docs command has no page")
		assert.NotContains(t, e.Name(), "completion", "runc has no completion command; no page for cobra's")
	}
	assert.Equal(t, want, got)

	page, err := os.ReadFile(filepath.Join(dir, "berth-runtime.1"))
	require.NoError(t, err)
	assert.Contains(t, string(page), `.TH "BERTH-RUNTIME" "1"`)
	for _, flag := range []string{"root", "log", "log-format", "systemd-cgroup"} {
		assert.Contains(t, string(page), `\fB--`+flag+`\fP`, "the global flag --%s is on the main page", flag)
	}

	manBin, err := exec.LookPath("man")
	if err != nil {
		t.Log("man is not installed: the pages were checked as files only")
		return
	}
	cmd := exec.Command(manBin, "-M", filepath.Dir(dir), "berth-runtime")
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=100", "LANG=C")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "man berth-runtime: %s", out)
	assert.Contains(t, string(out), "berth-runtime - berth as an OCI runtime")
}
