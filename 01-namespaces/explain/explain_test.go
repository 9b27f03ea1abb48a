package explain

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestFormatAndParse(t *testing.T) {
	tests := []struct {
		name               string
		section            Section
		kind, detail, line string
	}{
		{"call", Namespaces, "clone", "(CLONE_NEWNS)", "[01 §Namespaces] clone(CLONE_NEWNS)"},
		{"words", Limits, "write", "/sys/fs/cgroup/x/memory.max = \"1\"", "[02 §Limits] write /sys/fs/cgroup/x/memory.max = \"1\""},
		{"no detail", Rootfs, "pivot_root", "", "[03 §Root filesystem] pivot_root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Format(tt.section, tt.kind, tt.detail)
			assert.Equal(t, tt.line, l)
			p, ok := Parse(l)
			require.True(t, ok)
			assert.Equal(t, Line{Section: tt.section, Kind: tt.kind, Detail: tt.detail}, p)
		})
	}
}

func TestParseSkipsOtherOutput(t *testing.T) {
	for _, l := range []string{"", "box", "[not a trace] x", "[01 §Mounts] ", "[01 §Mounts] (x)"} {
		_, ok := Parse(l)
		assert.False(t, ok, "%q", l)
	}
}

func TestFlagNames(t *testing.T) {
	tests := []struct {
		name  string
		got   string
		wants string
	}{
		{"clone", CloneFlags(unix.CLONE_NEWPID | unix.CLONE_NEWNS), "CLONE_NEWNS|CLONE_NEWPID"},
		{"unknown bit", CloneFlags(unix.CLONE_NEWUTS | 0x100), "CLONE_NEWUTS|0x100"},
		{"none", MountFlags(0), "0x0"},
		{"mount", MountFlags(unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY), "MS_RDONLY|MS_BIND|MS_REC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.wants, tt.got) })
	}
}

func TestMountLine(t *testing.T) {
	var b bytes.Buffer
	tr := New(&b)
	tr.Mount(Mounts, "proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV, "", "ps shows this PID namespace")
	tr.Mount(System, "tmpfs", "/dev", "tmpfs", unix.MS_NOSUID, "mode=755", "")
	assert.Equal(t, "[01 §Mounts] mount(proc on /proc type proc, MS_NOSUID|MS_NODEV): ps shows this PID namespace\n"+
		"[03 §System mounts] mount(tmpfs on /dev type tmpfs, MS_NOSUID, \"mode=755\")\n", b.String())
}

func TestNilTraceIsOffAndFree(t *testing.T) {
	var tr *Trace
	assert.False(t, tr.On())
	assert.Nil(t, New(nil))
	w, done, err := tr.Pipe()
	require.NoError(t, err)
	assert.Nil(t, w)
	done()
	allocs := testing.AllocsPerRun(100, func() {
		tr.Clone(unix.CLONE_NEWNS)
		tr.Mount(Mounts, "proc", "/proc", "proc", 0, "", "why")
		tr.Write(Limits, "/x", "1")
		tr.Step(Rootfs, "pivot_root", "(., .)")
	})
	assert.Zero(t, allocs, "a trace that is off must cost nothing")
}

func TestPipeCopiesWholeLinesInOrder(t *testing.T) {
	var b bytes.Buffer
	tr := New(&b)
	w, done, err := tr.Pipe()
	require.NoError(t, err)
	child := New(w) // what init does with the inherited end
	child.Step(Rootfs, "pivot_root", "(., .)")
	child.Write(Limits, "/x", "1")
	require.NoError(t, w.Close())
	done()
	assert.Equal(t, []Line{
		{Section: Rootfs, Kind: "pivot_root", Detail: "(., .)"},
		{Section: Limits, Kind: "write", Detail: `/x = "1"`},
	}, Lines(b.String()))
}

func TestInheritOpensTheNamedDescriptorOnce(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	// The descriptor Inherit takes is its own, as init's is: a copy,
	// which CloseInside closes. (Handing it w's own would give one
	// descriptor two owners, and the second close, w's finalizer's,
	// would hit whatever file had the number by then.)
	fd, err := syscall.Dup(int(w.Fd()))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	t.Setenv(EnvFD, strconv.Itoa(fd))
	Inherit()
	defer func() { inside = nil }()
	_, stillSet := os.LookupEnv(EnvFD)
	assert.False(t, stillSet, "nothing init starts may see the variable")
	Inside().Step(Mounts, "mount", "(x)")
	CloseInside()
	assert.Nil(t, Inside(), "closed")
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "[01 §Mounts] mount(x)\n", string(got))
}

func TestFirstMissing(t *testing.T) {
	ls := Lines("[01 §Namespaces] clone(X)\nhello\n[01 §Mounts] mount(proc on /proc)\n[03 §Root filesystem] pivot_root(., .)\n")
	tests := []struct {
		name string
		want []string
		miss string
	}{
		{"all in order", []string{"clone", "mount:/proc", "pivot_root"}, ""},
		{"out of order", []string{"pivot_root", "clone"}, "clone"},
		{"detail absent", []string{"mount:/sys"}, "mount:/sys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.miss, FirstMissing(ls, tt.want...)) })
	}
}

// A writer shared with the trace (a container's stderr that is the
// program's too) takes turns with it, even when the other side fills the
// buffer by ReadFrom, as os/exec does with a bytes.Buffer.
func TestShareTakesTurnsWithTheTrace(t *testing.T) {
	var b bytes.Buffer
	tr := New(&b)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	copied := make(chan error, 1)
	go func() { _, err := io.Copy(tr.Share(), r); copied <- err }()
	for i := 0; i < 100; i++ {
		tr.Step(Mounts, "mount", "(x)")
		_, err := w.Write([]byte("out\n"))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	require.NoError(t, <-copied)
	assert.Len(t, Lines(b.String()), 100, "no line of the trace is lost")
	assert.Equal(t, 100, strings.Count(b.String(), "out\n"))
	assert.Nil(t, (*Trace)(nil).Share())
}
