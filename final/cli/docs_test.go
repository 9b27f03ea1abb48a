package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestS8_ManPages: a man page for every command, laid out as `make
// install` lays them out, which `man berth-run` then finds.
func TestS8_ManPages(t *testing.T) {
	root := t.TempDir()
	man1 := filepath.Join(root, "man1")
	require.NoError(t, GenManPages(man1))

	for _, page := range []string{"berth", "berth-run", "berth-ps", "berth-exec", "berth-logs", "berth-commit",
		"berth-save", "berth-load", "berth-build", "berth-image-ls", "berth-image-inspect", "berth-container-run",
		"berth-network", "berth-network-create", "berth-network-ls", "berth-network-inspect", "berth-network-rm",
		"berth-network-prune", "berth-network-connect", "berth-network-disconnect"} {
		b, err := os.ReadFile(filepath.Join(man1, page+".1"))
		require.NoError(t, err, page)
		assert.Contains(t, string(b), `.TH "`+strings.ToUpper(page)+`" "1"`, page)
	}
	entries, err := os.ReadDir(man1)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), "docs", "the hidden docs command has no page")
	}

	run, err := os.ReadFile(filepath.Join(man1, "berth-run.1"))
	require.NoError(t, err)
	for _, flag := range []string{"publish", "detach", "interactive", "tty", "rm", "memory", "cpus", "pids", "entrypoint", "init", "sig", "keys",
		"network-alias", "ip", "mac-address", "add-host", "dns", "dns-search", "dns-option"} {
		assert.Contains(t, string(run), flag)
	}

	manBin, err := exec.LookPath("man")
	if err != nil {
		t.Log("man is not installed: the pages were checked as files only")
		return
	}
	cmd := exec.Command(manBin, "-M", root, "berth-run")
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=100", "LANG=C")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "man berth-run: %s", out)
	text := string(out)
	assert.Contains(t, text, "berth-run - Create and run a new container from an image")
	assert.Contains(t, text, "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]")
	assert.Contains(t, text, "--publish")
	assert.Contains(t, text, "format: <name|uid>[:<group|gid>]", "angle brackets survive Markdown")
}

// Every command has --help, and its text is the man page's.
func TestEveryCommandHasHelp(t *testing.T) {
	root := NewRootCommand(New(nil, nil, nil))
	var paths [][]string
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		paths = append(paths, []string{c.Name()})
		for _, sub := range c.Commands() {
			if sub.Name() != "help" {
				paths = append(paths, []string{c.Name(), sub.Name()})
			}
		}
	}
	require.Greater(t, len(paths), 40)
	for _, p := range paths {
		out, errOut, code := runBerth(t, "unix:///nonexistent", nil, nil, append(p, "--help")...)
		name := strings.Join(p, " ")
		assert.Equal(t, 0, code, "%s --help: %s", name, errOut)
		assert.Contains(t, out, "Usage:\n  berth "+name, name)
		assert.NotContains(t, out, "[flags]", "docker's usage lines have no [flags]")
	}
}
