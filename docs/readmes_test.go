package docs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/05-network/network"
)

// A chapter README's commands are the first thing a learner runs, so a
// test runs them: every fenced block whose info string is exactly "sh",
// in the order of the file, as one script under `set -e`. A command
// whose status the README shows (`CMD; echo $?`) may fail: it runs as
// `CMD || echo $?`. A block marked
// "sh manual" is shown but not run here: the chapter's own tests and
// benchmarks (which `go test` runs anyway), or an exercise that needs a
// second terminal. A block marked "text" right after a run block is
// what that block prints: each of its lines must come out, in that
// order, blanks collapsed, "..." standing for anything (IDs, times);
// other lines may come between. Each README ends with a "Clean up"
// block, and after the script the host must be as it was before. The
// chapter texts' "Check your work" sections run the same way
// (TestChapterTextChecksRunInOrderAndLeaveNoTrace).
//
// "As it was" must not depend on what other tests do at the same time,
// and a failure must leave nothing behind either. So the script runs in
// namespaces of its own, with the host's places where the chapters leave
// things swapped for private ones:
//
//	network namespace   new: starts with lo only; links and nftables
//	                    tables left in it are the README's
//	mount namespace     new: mounts left in it are the README's
//	/tmp                a new tmpfs
//	/var/lib            a new, empty directory (the course's state is
//	                    /var/lib/berth-course)
//	<cgroup>/berth      for each hierarchy, an empty cgroup of this test
//	                    bound over the containers' parent
//
// When the script's last process is gone, the kernel removes both
// namespaces and everything in them; the test removes its directories
// and cgroups itself, and kills any process left in its network
// namespace. The base image is shared by every chapter and is not
// swapped: its entries (labtest.Tree: names, modes, owners, times, sizes,
// link targets and contents) must be the same after the script.

// readmeBlock is one block of commands of a README, and the output the
// README shows for it: the lines of a "text" block right after it.
type readmeBlock struct {
	script string
	expect []string
}

// readmeBlocks returns the blocks marked "sh" in a README, in order.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	return docBlocks(t, path, func(string) bool { return true })
}

// docBlocks returns the blocks marked "sh" of a Markdown file, in order,
// that lie in a section whose heading (without its "#" marks) inside
// says; a section ends at the next heading of its level or above. The
// text before the first heading counts as a section titled "".
func docBlocks(t *testing.T, path string, inside func(heading string) bool) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var blocks []readmeBlock
	var lines []string
	kind, after := "", false   // after: a run block closed, nothing but blank lines since
	in, level := inside(""), 0 // in: the current section is one to run; level: its heading's
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case kind == "" && strings.HasPrefix(line, "```"):
			kind = strings.TrimSpace(strings.TrimPrefix(line, "```"))
			if kind == "" {
				kind = "plain"
			}
			if !in || (kind == "text" && !after) {
				kind = "plain" // not run, or output shown for no block that runs
			}
			lines = nil
		case kind != "" && strings.HasPrefix(line, "```"):
			switch kind {
			case "sh":
				script := strings.Join(lines, "\n") + "\n"
				script = strings.ReplaceAll(script, "; echo $?", " || echo $?")
				blocks = append(blocks, readmeBlock{script: script})
			case "text":
				blocks[len(blocks)-1].expect = lines
			}
			after = kind == "sh"
			kind = ""
		case kind != "":
			lines = append(lines, line)
		case strings.TrimSpace(line) != "":
			after = false
			if m := headRE.FindStringSubmatch(line); m != nil {
				switch {
				case inside(strings.TrimSpace(line[len(m[0]):])):
					in, level = true, len(m[1])
				case in && len(m[1]) <= level:
					in = false
				}
			}
		}
	}
	require.Empty(t, kind, "%s: a code block is not closed", path)
	return blocks
}

// blockMarker separates the output of one block from the next's.
const blockMarker = "@@@ README block "

// script joins the blocks, each announced by its marker on the output.
// The marker is written with tracing off: the trace of `echo MARKER`
// would contain the marker too.
func script(blocks []readmeBlock) string {
	var b strings.Builder
	for i, block := range blocks {
		fmt.Fprintf(&b, "{ set +x; } 2>/dev/null; echo '%s%d'; set -x\n", blockMarker, i)
		b.WriteString(block.script)
	}
	return b.String()
}

// blockOutputs splits the script's output at the markers. Lines of the
// shell's trace ("+ command", "++ command" in a $(...)) are left out.
func blockOutputs(output string) map[int][]string {
	out := map[int][]string{}
	block := -1
	for _, line := range strings.Split(output, "\n") {
		if n, ok := strings.CutPrefix(line, blockMarker); ok {
			block, _ = strconv.Atoi(n)
			continue
		}
		if !isTrace(line) {
			out[block] = append(out[block], line)
		}
	}
	return out
}

// isTrace reports whether line is the shell's trace of a command: one
// "+" per level of $(...), then a blank.
func isTrace(line string) bool {
	rest := strings.TrimLeft(line, "+")
	return rest != line && strings.HasPrefix(rest, " ")
}

// normal collapses runs of blanks: column widths are not the point.
func normal(s string) string { return strings.Join(strings.Fields(s), " ") }

// missingLines returns the first line of want that got does not have,
// after the lines matched before it. "..." in a line of want stands for
// anything (an ID, a time, the rest of the line).
func missingLines(want, got []string) (string, bool) {
	next := 0
	for _, w := range want {
		w = normal(w)
		if w == "" {
			continue
		}
		found := false
		for next < len(got) {
			g := normal(got[next])
			next++
			if matches(w, g) {
				found = true
				break
			}
		}
		if !found {
			return w, true
		}
	}
	return "", false
}

// matches reports whether line is pattern, "..." in pattern matching
// any text.
func matches(pattern, line string) bool {
	pieces := strings.Split(pattern, "...")
	if !strings.HasPrefix(line, pieces[0]) {
		return false
	}
	line = line[len(pieces[0]):]
	for i, p := range pieces[1:] {
		if i == len(pieces)-2 { // the last piece ends the line
			return strings.HasSuffix(line, p)
		}
		at := strings.Index(line, p)
		if at < 0 {
			return false
		}
		line = line[at+len(p):]
	}
	return line == ""
}

// changes returns the entries of before missing from after, and those of
// after missing from before: a changed entry is in both.
func changes(before, after []string) (gone, added []string) {
	for _, e := range before {
		if !slices.Contains(after, e) {
			gone = append(gone, e)
		}
	}
	for _, e := range after {
		if !slices.Contains(before, e) {
			added = append(added, e)
		}
	}
	return gone, added
}

// cgroupMounts lists the mount points of the host's cgroup hierarchies,
// v1 and v2, but cpuset: the chapters never use it (a new v1 cpuset
// cgroup cannot hold a process until its cpus and mems are set).
func cgroupMounts(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		fstype, opts := fields[sep+1], strings.Split(fields[sep+3], ",")
		if (fstype == "cgroup" && !slices.Contains(opts, "cpuset")) || fstype == "cgroup2" {
			if !slices.Contains(out, fields[4]) {
				out = append(out, fields[4])
			}
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// sandboxCgroups makes an empty cgroup of this test in each hierarchy,
// to be bound over <hierarchy>/berth in the script's mount namespace,
// and removes it (and anything left in it) at the end.
func sandboxCgroups(t *testing.T, name string) (binds map[string]string) {
	t.Helper()
	binds = map[string]string{}
	for _, mp := range cgroupMounts(t) {
		parent := filepath.Join(mp, "berth")
		// The chapters make "berth" when it is missing; make it here,
		// on the host, so that there is something to bind over, and
		// remove it again if no one else has put a cgroup in it since.
		err := os.Mkdir(parent, 0o755)
		switch {
		case err == nil:
			t.Cleanup(func() { _ = os.Remove(parent) })
		case !errors.Is(err, fs.ErrExist):
			t.Logf("no sandbox in %s: %v", mp, err)
			continue
		}
		own := filepath.Join(mp, name)
		require.NoError(t, os.Mkdir(own, 0o755))
		t.Cleanup(func() { removeCgroupTree(t, own) })
		binds[own] = parent
	}
	require.NotEmpty(t, binds, "no cgroup hierarchy found")
	return binds
}

// removeCgroupTree removes a cgroup and its children, deepest first.
// Processes left in them were killed already (killLeftovers).
func removeCgroupTree(t *testing.T, dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(t, filepath.Join(dir, e.Name()))
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removing cgroup %s: %v", dir, err)
	}
}

// cgroupChildren lists what the README left in the test's cgroups.
func cgroupChildren(binds map[string]string) []string {
	var left []string
	for own := range binds {
		entries, _ := os.ReadDir(own)
		for _, e := range entries {
			if e.IsDir() {
				left = append(left, filepath.Join(own, e.Name()))
			}
		}
	}
	return left
}

// inNetns lists the processes whose network namespace is ns.
func inNetns(ns string) []int {
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if link, err := os.Readlink(filepath.Join("/proc", p.Name(), "ns", "net")); err == nil && link == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killLeftovers kills every process left in the script's network
// namespace (every one of them descends from the script) until none is
// left.
func killLeftovers(t *testing.T, ns string) []int {
	var seen []int
	for range 100 {
		pids := inNetns(ns)
		if len(pids) == 0 {
			return seen
		}
		for _, pid := range pids {
			if !slices.Contains(seen, pid) {
				seen = append(seen, pid)
			}
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond) // reaped by their parents, or by init
	}
	t.Errorf("processes left in the script's network namespace after SIGKILL: %v", inNetns(ns))
	return seen
}

// prologue sets up the private places (see the top of this file), saves
// what the host looks like from inside, and makes sudo work without
// sudo: the test runs as root already.
//
// The repository is bound at view first and the script works there: a
// checkout under /tmp or /var/lib (a CI's clean clone may be anywhere)
// would be hidden by the private places.
func prologue(root, view, state, snap string, binds map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "read go\nset -e\n")
	fmt.Fprintf(&b, "mount --bind %q %q\n", root, view)
	fmt.Fprintf(&b, "mount --bind %q /var/lib\n", state)
	fmt.Fprintf(&b, "mount -t tmpfs -o size=1g,mode=1777 readme-tmp /tmp\n")
	for own, parent := range binds {
		fmt.Fprintf(&b, "mount --bind %q %q\n", own, parent)
	}
	fmt.Fprintf(&b, "ip link set lo up\n")
	fmt.Fprintf(&b, "snap() { ip -o link show | cut -d: -f2 | tr -d ' ' >%[1]q/$1.links; nft list tables >%[1]q/$1.nft; "+
		"cut -d' ' -f5,9 /proc/self/mountinfo | sort >%[1]q/$1.mounts; ls -A /tmp >%[1]q/$1.tmp; ls -A /var/lib >%[1]q/$1.state; }\n", snap)
	fmt.Fprintf(&b, "snap before\n")
	fmt.Fprintf(&b, "cd %q\nset -x\n", view)
	return b.String()
}

func TestREADMEsRunInOrderAndLeaveNoTrace(t *testing.T) {
	labtest.Privileged(t)
	if testing.Short() {
		t.Skip("runs every chapter's README commands: minutes")
	}
	root := repoRoot(t)
	base := labtest.BusyboxRootfs(t)
	require.Equal(t, "/var/cache/berth/busybox/rootfs", base, "the READMEs name the base image by this path")

	readmes, err := filepath.Glob(filepath.Join(root, "[0-9][0-9]-*", "README.md"))
	require.NoError(t, err)
	require.Len(t, readmes, 7)
	for _, readme := range readmes {
		chapter := filepath.Base(filepath.Dir(readme))
		t.Run(chapter, func(t *testing.T) {
			blocks := readmeBlocks(t, readme)
			require.NotEmpty(t, blocks)
			require.Contains(t, blocks[0].script, "go build -o bin/ ./"+chapter, "the README builds its program first")
			runBlocks(t, root, base, "README", blocks)
		})
	}
}

// runBlocks runs blocks as one script in the private places (see the
// top of this file) and checks what each printed and that the host is
// as before; doc names the text they come from, in messages.
func runBlocks(t *testing.T, root, base, doc string, blocks []readmeBlock) {
	work, err := os.MkdirTemp("/var/tmp", "berth-readme-")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, os.RemoveAll(work)) })
	state, snap, view := filepath.Join(work, "state"), filepath.Join(work, "snap"), filepath.Join(work, "repo")
	for _, dir := range []string{state, snap, view} {
		require.NoError(t, os.Mkdir(dir, 0o755))
	}
	// sudo, for a root that may have none: outside /tmp, which the
	// script replaces.
	sudo := filepath.Join(work, "bin")
	require.NoError(t, os.Mkdir(sudo, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(sudo, "sudo"), []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755))
	binds := sandboxCgroups(t, labtest.Unique("berth-readme"))
	tree := labtest.Tree(t, base)

	full := prologue(root, view, state, snap, binds) + script(blocks) + "set +x\nsnap after\n"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", full)
	cmd.Env = append(os.Environ(), "PATH="+sudo+":"+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Go makes every mount of the new mount namespace private
		// when CLONE_NEWNS is unshared: nothing done inside reaches
		// the host, nor the host's mounts the script.
		Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET,
	}
	// A file, not a pipe: a process the README leaves behind would
	// hold a pipe open, and Wait with it.
	out, err := os.Create(filepath.Join(work, "output"))
	require.NoError(t, err)
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// The script waits for this line: its namespace is known before
	// anything runs in it, so that whatever is left can be found.
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	require.NoError(t, err)
	_, _ = io.WriteString(stdin, "go\n")
	stdin.Close()
	t.Cleanup(func() { killLeftovers(t, ns) })

	err = cmd.Wait()
	output, _ := os.ReadFile(out.Name())
	gone, added := changes(tree, labtest.Tree(t, base))
	assert.Empty(t, gone, "the base image %s changed: entries gone or changed", base)
	assert.Empty(t, added, "the base image %s changed: entries new or changed", base)
	if !assert.NoError(t, err, "the %s's commands failed", doc) {
		t.Logf("output:\n%s", output)
		return
	}
	if testing.Verbose() {
		t.Logf("output:\n%s", output)
	}
	outputs := blockOutputs(string(output))
	for i, b := range blocks {
		if line, missing := missingLines(b.expect, outputs[i]); missing {
			t.Errorf("block %d of the %s does not print %q; it printed:\n%s\nthe block:\n%s",
				i+1, doc, line, strings.Join(outputs[i], "\n"), b.script)
		}
	}
	assert.Empty(t, killLeftovers(t, ns), "processes left running")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(snap, name))
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "lo\n", read("after.links"), "links left")
	assert.Empty(t, read("after.nft"), "nftables tables left")
	// Only new mounts count: one of the host's copied into the
	// namespace vanishes from it too when the host removes the
	// directory it is mounted on.
	_, mounts := changes(strings.Split(read("before.mounts"), "\n"), strings.Split(read("after.mounts"), "\n"))
	assert.Empty(t, mounts, "mounts left")
	// The subnet lock stays: every berth process, berthd's and the
	// tests' too, takes it to pick a free subnet, and one removed while
	// another process holds it would let two pick the same subnet.
	tmp := slices.DeleteFunc(strings.Fields(read("after.tmp")), func(name string) bool {
		return name == filepath.Base(network.SubnetLockPath)
	})
	assert.Empty(t, tmp, "files left in /tmp")
	assert.Empty(t, read("after.state"), "files left in /var/lib (the course's state)")
	assert.Empty(t, cgroupChildren(binds), "cgroups left under berth")
}

// TestChapterTextChecksRunInOrderAndLeaveNoTrace runs the "Check your
// work" sections of each chapter text (docs/NN-name.md, and subsections
// such as "### Check your work: names") the way the READMEs are run:
// their "sh" blocks in order as one script, each "text" block after one
// of them what it prints, and the host as before at the end. The other
// blocks of a chapter text illustrate the prose and are not run.
func TestChapterTextChecksRunInOrderAndLeaveNoTrace(t *testing.T) {
	labtest.Privileged(t)
	if testing.Short() {
		t.Skip("runs every chapter text's checks: minutes")
	}
	root := repoRoot(t)
	base := labtest.BusyboxRootfs(t)
	require.Equal(t, "/var/cache/berth/busybox/rootfs", base, "the chapter texts name the base image by this path")

	texts, err := filepath.Glob(filepath.Join(root, "docs", "[0-9][0-9]-*.md"))
	require.NoError(t, err)
	require.Len(t, texts, 7)
	for _, text := range texts {
		chapter := strings.TrimSuffix(filepath.Base(text), ".md")
		t.Run(chapter, func(t *testing.T) {
			blocks := docBlocks(t, text, isCheckSection)
			require.NotEmpty(t, blocks, "docs/%s.md: no block to run in its \"Check your work\"", chapter)
			require.Contains(t, blocks[0].script, "go build -o bin/ ./"+chapter, "the checks build the program first")
			runBlocks(t, root, base, "chapter text", blocks)
		})
	}
}

// isCheckSection: a chapter text's checks are under "Check your work".
func isCheckSection(heading string) bool { return strings.HasPrefix(heading, "Check your work") }

// TestREADMEBlocksAndTheirOutput: what counts as a block to run, and
// how its shown output is matched. No root needed.
func TestREADMEBlocksAndTheirOutput(t *testing.T) {
	readme := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(readme, []byte(strings.Join([]string{
		"```sh", "echo a; echo $?", "```", "```text", "a", "```",
		"```sh manual", "go test ./...", "```",
		"text between", "```text", "not an output: no run block right before", "```",
		"```", "plain", "```",
		"```sh", "echo b", "```", "", "```text", "b", "```",
	}, "\n")), 0o644))
	blocks := readmeBlocks(t, readme)
	assert.Equal(t, []readmeBlock{
		{script: "echo a || echo $?\n", expect: []string{"a"}},
		{script: "echo b\n", expect: []string{"b"}},
	}, blocks)

	text := filepath.Join(t.TempDir(), "01-x.md")
	require.NoError(t, os.WriteFile(text, []byte(strings.Join([]string{
		"```sh", "echo before", "```",
		"## Check your work", "```sh", "echo a", "```", "```text", "a", "```",
		"### Deeper", "```sh", "echo b", "```",
		"## Exercises", "```sh", "echo c", "```", "```text", "c", "```",
		"### Check your work: names", "```sh", "# not a heading", "echo d", "```",
		"#### Deeper still", "```sh", "echo e", "```",
		"### Other", "```sh", "echo f", "```",
	}, "\n")), 0o644))
	assert.Equal(t, []readmeBlock{
		{script: "echo a\n", expect: []string{"a"}},
		{script: "echo b\n"},
		{script: "# not a heading\necho d\n"},
		{script: "echo e\n"},
	}, docBlocks(t, text, isCheckSection))

	for line, trace := range map[string]bool{
		"+ echo a": true, "++ wc -l": true, "+": false, "a + b": false, "+1": false, "": false,
	} {
		assert.Equal(t, trace, isTrace(line), "%q", line)
	}

	for _, tc := range []struct {
		want, got []string
		missing   string
	}{
		{[]string{"a", "b"}, []string{"a", "x", "b"}, ""},
		{[]string{"b", "a"}, []string{"a", "b"}, "a"},
		{[]string{"NAME  SIZE"}, []string{"NAME SIZE"}, ""},
		{[]string{"2: eth0 inet 10.77.0.2/16..."}, []string{"2: eth0    inet 10.77.0.2/16 brd 10.77.255.255"}, ""},
		{[]string{"... front br-... false"}, []string{"0e55 front br-0e55 10.89.0.0/24 false"}, ""},
		{[]string{"... front br-... false"}, []string{"0e55 back br-0e55 10.89.0.0/24 false"}, "... front br-... false"},
		{[]string{"sha256:..."}, []string{"sha256"}, "sha256:..."},
		{[]string{"box"}, []string{"boxx"}, "box"},
	} {
		missing, ok := missingLines(tc.want, tc.got)
		assert.Equal(t, tc.missing != "", ok, "%q in %q", tc.want, tc.got)
		assert.Equal(t, tc.missing, missing, "%q in %q", tc.want, tc.got)
	}
}
