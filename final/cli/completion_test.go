package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// complete asks berth, as a shell's script does, for the completions of
// the last of words, and returns them without their descriptions, and
// the directive.
func complete(t *testing.T, host string, words ...string) ([]string, string) {
	t.Helper()
	out, errOut, code := runBerth(t, host, nil, nil, append([]string{"__complete"}, words...)...)
	require.Equal(t, 0, code, "berth __complete %q: %s", words, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	directive := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(directive, ":"), "the last line is the directive: %q", out)
	var names []string
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t")
		names = append(names, name)
	}
	return names, directive[1:]
}

// The kinds of arguments read off the usage lines, for commands of every
// shape of usage line berth has.
func TestCompletionUsageArgs(t *testing.T) {
	root := NewRootCommand(New(nil, nil, nil))
	for _, tc := range []struct {
		path   string
		kinds  []argKind
		repeat bool
	}{
		{"stop", []argKind{argContainer}, true},
		{"container stop", []argKind{argContainer}, true},
		{"logs", []argKind{argContainer}, false},
		{"stats", []argKind{argContainer}, true},
		{"exec", []argKind{argContainer, argNone}, true},
		{"run", []argKind{argImage, argNone}, true},
		{"top", []argKind{argContainer, argNone}, false},
		{"port", []argKind{argContainer, argNone}, false},
		{"rename", []argKind{argContainer, argNone}, false},
		{"commit", []argKind{argContainer, argNone}, false},
		{"cp", []argKind{argCopyPath, argCopyPath}, false},
		{"tag", []argKind{argImage, argImage}, false},
		{"pull", []argKind{argImage}, false},
		{"push", []argKind{argImage}, false},
		{"rmi", []argKind{argImage}, true},
		{"images", []argKind{argImage}, false},
		{"import", []argKind{argFile, argNone}, false},
		{"build", []argKind{argFile}, false},
		{"inspect", []argKind{argObject}, true},
		{"ps", nil, false},
		{"network connect", []argKind{argNetwork, argContainer}, false},
		{"network create", []argKind{argNone}, false},
		{"network rm", []argKind{argNetwork}, true},
		{"volume create", []argKind{argNone}, false},
		{"volume inspect", []argKind{argVolume}, true},
		{"login", []argKind{argNone}, false},
	} {
		cmd, rest, err := root.Find(strings.Fields(tc.path))
		require.NoError(t, err, tc.path)
		require.Empty(t, rest, tc.path)
		kinds, repeat := usageArgs(cmd)
		assert.Equal(t, tc.kinds, kinds, "%s (%s)", tc.path, cmd.Use)
		assert.Equal(t, tc.repeat, repeat, "%s (%s)", tc.path, cmd.Use)
	}
}

// Every command that takes a container, an image, a network or a volume
// completes it: no usage line names one that the reading above misses.
func TestCompletionEveryNamedArgument(t *testing.T) {
	root := NewRootCommand(New(nil, nil, nil))
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
		if cmd.HasSubCommands() || cmd.Hidden {
			return
		}
		assert.True(t, cmd.ValidArgsFunction != nil || cmd.ValidArgs != nil, cmd.CommandPath())
		kinds, _ := usageArgs(cmd)
		use := strings.TrimPrefix(cmd.Use, cmd.Name())
		for word, kind := range map[string]argKind{"CONTAINER": argContainer, "NETWORK": argNetwork, "VOLUME": argVolume} {
			if strings.Contains(use, word) && cmd.Name() != "create" {
				assert.True(t, slices.Contains(kinds, kind) || (kind == argContainer && slices.Contains(kinds, argCopyPath)),
					"%s: %q", cmd.CommandPath(), cmd.Use)
			}
		}
		if strings.Contains(use, "IMAGE") {
			assert.Contains(t, kinds, argImage, "%s: %q", cmd.CommandPath(), cmd.Use)
		}
	}
	walk(root)
}

// berth __complete against the fake engine: which names each command
// offers, from the engine at the time of asking.
func TestCompletionNames(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "up1", "busybox", "sleep", "30")
	e.ok(t, "run", "-d", "--name", "up2", "busybox", "sleep", "30")
	e.ok(t, "run", "-d", "--name", "held", "busybox", "sleep", "30")
	e.ok(t, "pause", "held")
	e.ok(t, "create", "--name", "made", "busybox")
	e.ok(t, "tag", "busybox", "mine:v1")
	e.ok(t, "network", "create", "front")
	e.ok(t, "volume", "create", "dbdata")

	for _, tc := range []struct {
		words     []string
		want      []string
		directive string
	}{
		{[]string{"stop", ""}, []string{"held", "up1", "up2"}, "4"},
		{[]string{"container", "kill", ""}, []string{"held", "up1", "up2"}, "4"},
		{[]string{"exec", ""}, []string{"up1", "up2"}, "4"},
		{[]string{"exec", "up1", ""}, nil, "4"},
		{[]string{"pause", ""}, []string{"up1", "up2"}, "4"},
		{[]string{"unpause", ""}, []string{"held"}, "4"},
		{[]string{"start", ""}, []string{"made"}, "4"},
		{[]string{"rm", ""}, []string{"made"}, "4"},
		{[]string{"rm", "-f", "up1", ""}, []string{"held", "made", "up2"}, "4"},
		// The shell keeps those that begin with what was typed.
		{[]string{"logs", "u"}, []string{"held", "made", "up1", "up2"}, "4"},
		{[]string{"cp", ""}, []string{"held:", "made:", "up1:", "up2:"}, "2"},
		{[]string{"cp", "up1:/etc/hostname", ""}, nil, "0"},
		{[]string{"cp", "./notes", ""}, []string{"held:", "made:", "up1:", "up2:"}, "2"},
		{[]string{"cp", "./"}, nil, "0"},
		{[]string{"run", ""}, []string{"busybox:latest", "mine:v1"}, "4"},
		{[]string{"run", "busybox:latest", ""}, nil, "4"},
		{[]string{"rmi", "mine:v1", ""}, []string{"busybox:latest"}, "4"},
		{[]string{"tag", "busybox:latest", ""}, []string{"mine:v1"}, "4"},
		{[]string{"network", "connect", ""}, []string{"bridge", "front", "host", "none"}, "4"},
		{[]string{"network", "connect", "front", ""}, []string{"held", "made", "up1", "up2"}, "4"},
		{[]string{"network", "create", ""}, nil, "4"},
		{[]string{"volume", "rm", ""}, []string{"dbdata"}, "4"},
		{[]string{"inspect", "--type", "volume", ""}, []string{"dbdata"}, "4"},
		{[]string{"inspect", "--type", ""}, []string{"container", "image", "network", "volume"}, "4"},
		{[]string{"run", "--network", ""}, []string{"bridge", "front", "host", "none"}, "4"},
		{[]string{"run", "--volumes-from", ""}, []string{"held", "made", "up1", "up2"}, "4"},
		{[]string{"run", "--restart", ""}, []string{"no", "on-failure", "always", "unless-stopped"}, "4"},
		{[]string{"update", "--restart", "a"}, []string{"no", "on-failure", "always", "unless-stopped"}, "4"},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}, "4"},
		{[]string{"sto"}, []string{"stop"}, "4"},
	} {
		got, directive := complete(t, e.host, tc.words...)
		assert.ElementsMatch(t, tc.want, got, "%q", tc.words)
		assert.Equal(t, tc.directive, directive, "%q", tc.words)
	}

	got, _ := complete(t, e.host, "kill", "--signal", "")
	assert.Contains(t, got, "KILL")
	assert.Contains(t, got, "TERM")
	got, _ = complete(t, e.host, "network", "")
	assert.Equal(t, []string{"connect", "create", "disconnect", "inspect", "ls", "prune", "rm"}, got)

	// Without a daemon there is nothing to offer, and the shell is told so.
	_, directive := complete(t, "unix:///nonexistent/berth.sock", "stop", "")
	assert.Equal(t, "1", directive, "ShellCompDirectiveError")
}

// The scripts berth prints are valid in their shell, and call berth
// __complete; zsh and fish are checked when installed.
func TestCompletionScripts(t *testing.T) {
	for _, tc := range []struct {
		shell  string
		check  []string // the shell's syntax check of a file
		expect string
	}{
		{"bash", []string{"bash", "-n"}, "complete -o default -F __start_berth berth"},
		{"zsh", []string{"zsh", "-n"}, "#compdef berth"},
		{"fish", []string{"fish", "--no-execute"}, "complete -c berth"},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			out, errOut, code := runBerth(t, "unix:///nonexistent", nil, nil, "completion", tc.shell)
			require.Equal(t, 0, code, errOut)
			assert.Contains(t, out, tc.expect)
			assert.Contains(t, out, "__complete")
			bin, err := exec.LookPath(tc.check[0])
			if err != nil {
				t.Skipf("%s is not installed: its script was not checked", tc.shell)
			}
			file := filepath.Join(t.TempDir(), "berth."+tc.shell)
			require.NoError(t, os.WriteFile(file, []byte(out), 0o644))
			msg, err := exec.Command(bin, append(tc.check[1:], file)...).CombinedOutput()
			require.NoError(t, err, "%s: %s", tc.check, msg)
		})
	}

	_, errOut, code := runBerth(t, "unix:///nonexistent", nil, nil, "completion", "tcsh")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, `unknown shell "tcsh"`)
}

// bashCompletionLib is where the bash-completion package puts the
// functions (_get_comp_words_by_ref, ...) that bash's script of cobra
// needs, as docker's does.
const bashCompletionLib = "/usr/share/bash-completion/bash_completion"

// TestBerthdCompletionShells: the script of `berth completion bash`,
// sourced in bash with bash-completion, fills COMPREPLY as bash would on
// TAB, with names that berth asks a real berthd for at that moment; and
// fish, when installed, completes the same lines the same way.
func TestBerthdCompletionShells(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	if _, err := os.Stat(bashCompletionLib); err != nil {
		t.Skipf("the bash-completion package is not installed (%s): the script needs it", bashCompletionLib)
	}
	e := newBerthd(t)
	e.ok(t, "run", "-d", "--name", "web", "busybox", "sleep", "600")
	e.ok(t, "create", "--name", "idle", "busybox")
	e.ok(t, "tag", "busybox", "site:v2")
	e.userNetwork(t, "front")

	// berth, as the shell finds it on PATH: this test binary playing
	// berth (see TestMain), talking to the test's berthd.
	self, err := os.Executable()
	require.NoError(t, err)
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "berth"),
		[]byte("#!/bin/sh\n"+asBerthEnv+"=1 exec '"+self+"' \"$@\"\n"), 0o755))
	script, errOut, code := runBerth(t, e.host, nil, nil, "completion", "bash")
	require.Equal(t, 0, code, errOut)
	scriptFile := filepath.Join(bin, "berth.bash")
	require.NoError(t, os.WriteFile(scriptFile, []byte(script), 0o644))

	// comp sets what bash sets before calling a completion function
	// (the words, the index of the one under the cursor, the line)
	// and prints COMPREPLY, one a line, as the shell would offer them.
	driver := `source ` + bashCompletionLib + `
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
COMPREPLY=()
__start_berth 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
`
	cases := []struct {
		words []string
		want  []string
	}{
		{[]string{"berth", "st"}, []string{"start", "stats", "stop"}},
		{[]string{"berth", "network", "c"}, []string{"connect", "create"}},
		{[]string{"berth", "stop", ""}, []string{"web"}},
		{[]string{"berth", "container", "kill", ""}, []string{"web"}},
		{[]string{"berth", "start", ""}, []string{"idle"}},
		{[]string{"berth", "rm", ""}, []string{"idle"}},
		{[]string{"berth", "rm", "-f", ""}, []string{"idle", "web"}},
		{[]string{"berth", "rm", "-f", "web", ""}, []string{"idle"}},
		{[]string{"berth", "logs", "w"}, []string{"web"}},
		{[]string{"berth", "exec", "web", ""}, nil},
		{[]string{"berth", "cp", "w"}, []string{"web:"}},
		{[]string{"berth", "run", ""}, []string{"busybox:latest", "site:v2"}},
		{[]string{"berth", "run", "s"}, []string{"site:v2"}},
		{[]string{"berth", "rmi", "site:v2", ""}, []string{"busybox:latest"}},
		{[]string{"berth", "network", "connect", "fr"}, []string{"front"}},
		{[]string{"berth", "run", "--network", "fr"}, []string{"front"}},
		{[]string{"berth", "run", "--restart", "un"}, []string{"unless-stopped"}},
	}
	env := append(os.Environ(), "HOME="+t.TempDir(), "PATH="+bin+":"+os.Getenv("PATH"), HostEnv+"="+e.host)
	for _, tc := range cases {
		cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", driver, "bash", scriptFile}, tc.words...)...)
		cmd.Env = env
		out, err := cmd.Output()
		require.NoError(t, err, "%q", tc.words)
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			// With several choices, bash shows each with its
			// description: "start  (Start one or more ...)".
			if f := strings.Fields(line); len(f) > 0 {
				got = append(got, f[0])
			}
		}
		assert.ElementsMatch(t, tc.want, got, "bash: %q", tc.words)
	}

	if fish, err := exec.LookPath("fish"); err == nil {
		t.Run("fish", func(t *testing.T) {
			script, errOut, code := runBerth(t, e.host, nil, nil, "completion", "fish")
			require.Equal(t, 0, code, errOut)
			fishFile := filepath.Join(bin, "berth.fish")
			require.NoError(t, os.WriteFile(fishFile, []byte(script), 0o644))
			for _, tc := range cases {
				// fish completes a command line as typed: the words,
				// the last one unfinished.
				cmd := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete --do-complete "$argv[2]"`,
					fishFile, strings.Join(tc.words, " "))
				cmd.Env = env
				out, err := cmd.Output()
				require.NoError(t, err, "%q", tc.words)
				var got []string
				for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					if name, _, _ := strings.Cut(line, "\t"); name != "" {
						got = append(got, name)
					}
				}
				assert.ElementsMatch(t, tc.want, got, "fish: %q", tc.words)
			}
		})
	} else {
		t.Log("fish is not installed: its script was not run")
	}

	t.Run("like docker", func(t *testing.T) { sameAsDocker(t, e) })
}

// TestMakeInstallCompletion: `make install-berth DESTDIR=...` (part of
// `make install`) puts the three scripts where each shell looks for them
// under PREFIX, and each shell, told that PREFIX is a data directory,
// finds the script there and completes through the berth installed
// beside it; `make uninstall` removes them.
func TestMakeInstallCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds berth with make")
	}
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	dest := t.TempDir()
	run := func(target string) {
		out, err := exec.Command(makeBin, "-C", repo, target, "DESTDIR="+dest).CombinedOutput()
		require.NoError(t, err, "make %s: %s", target, out)
	}
	run("install-berth")

	share := filepath.Join(dest, "usr", "local", "share")
	bin := filepath.Join(dest, "usr", "local", "bin")
	files := map[string]string{
		"bash": filepath.Join(share, "bash-completion", "completions", "berth"),
		"zsh":  filepath.Join(share, "zsh", "site-functions", "_berth"),
		"fish": filepath.Join(share, "fish", "vendor_completions.d", "berth.fish"),
	}
	for shell, file := range files {
		want, errOut, code := runBerth(t, "unix:///nonexistent", nil, nil, "completion", shell)
		require.Equal(t, 0, code, errOut)
		got, err := os.ReadFile(file)
		require.NoError(t, err, shell)
		assert.Equal(t, want, string(got), "%s: what `berth completion %s` prints", file, shell)
		st, err := os.Stat(file)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), file)
	}

	// Each shell, in a HOME of its own, finds the file and uses it.
	env := append(os.Environ(), "HOME="+t.TempDir(), "XDG_DATA_DIRS="+share, "PATH="+bin+":"+os.Getenv("PATH"))
	shells := []struct {
		shell  string
		args   []string
		expect string
	}{
		{"bash", []string{"--norc", "--noprofile", "-c", "source " + bashCompletionLib + `
__load_completion berth || exit 3
COMP_WORDS=(berth comp); COMP_CWORD=1; COMP_LINE="berth comp"; COMP_POINT=10; COMP_TYPE=9
__start_berth 2>/dev/null; printf '%s\n' "${COMPREPLY[@]}"`}, "completion\n"},
		{"zsh", []string{"-fc", "fpath=(" + filepath.Dir(files["zsh"]) + ` $fpath); autoload -U compinit; compinit -u -d "$HOME/.zcompdump"; print -r -- $_comps[berth]`}, "_berth\n"},
		{"fish", []string{"-c", `complete --do-complete "berth comp"`}, "completion\tPrint the shell completion script for bash, zsh or fish\n"},
	}
	for _, sh := range shells {
		path, err := exec.LookPath(sh.shell)
		if err != nil {
			t.Logf("%s is not installed: its script was checked as a file only", sh.shell)
			continue
		}
		if _, err := os.Stat(bashCompletionLib); err != nil && sh.shell == "bash" {
			t.Logf("bash-completion is not installed: bash's script was checked as a file only")
			continue
		}
		cmd := exec.Command(path, sh.args...)
		cmd.Env = env
		out, err := cmd.Output()
		require.NoError(t, err, sh.shell)
		assert.Equal(t, sh.expect, string(out), sh.shell)
	}

	run("uninstall")
	for _, file := range files {
		_, err := os.Stat(file)
		assert.ErrorIs(t, err, os.ErrNotExist, file)
	}
}

// sameAsDocker: docker 28's own completion (its hidden __complete),
// asked about the same daemon, offers the same names as berth's for the
// same command lines.
func sameAsDocker(t *testing.T, e *engine) {
	e.ok(t, "run", "-d", "--name", "held", "busybox", "sleep", "600")
	e.ok(t, "pause", "held")
	e.ok(t, "volume", "create", "dbdata")
	names := func(out string) []string {
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.HasPrefix(line, ":") {
				break // the directive
			}
			name, _, _ := strings.Cut(line, "\t")
			got = append(got, name)
		}
		return got
	}
	for _, line := range [][]string{
		{"stop", ""}, {"kill", ""}, {"exec", ""}, {"attach", ""}, {"pause", ""}, {"unpause", ""},
		{"start", ""}, {"rm", ""}, {"logs", ""}, {"restart", ""}, {"rename", ""}, {"top", ""}, {"wait", ""},
		{"container", "stop", ""}, {"rm", "-f", ""},
		{"run", ""}, {"create", ""}, {"rmi", ""}, {"tag", ""}, {"push", ""}, {"save", ""}, {"history", ""},
		{"network", "rm", ""}, {"network", "inspect", ""}, {"volume", "rm", ""}, {"volume", "inspect", ""},
		{"run", "--network", ""}, {"run", "--volumes-from", ""}, {"run", "--restart", ""},
		{"network", "connect", ""}, {"volume", "ls", ""},
		// Not compared: docker 28 offers nothing for inspect --type
		// volume (berth offers the volumes), offers a name again after
		// it was typed (`rm -f idle <TAB>`: docker 29 no longer does,
		// nor does berth), and its "st" and "volume <TAB>" also offer
		// swarm's stack and volume update.
	} {
		docker := names(e.docker(t, append([]string{"__complete"}, line...)...))
		berth, _ := complete(t, e.host, line...)
		assert.ElementsMatch(t, docker, berth, "%q", line)
	}
}
