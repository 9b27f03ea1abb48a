package namespace

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestSealedSelf: the copy that inits, shims and exec helpers start from
// is this program, unchangeable (CVE-2019-5736): same bytes, every write
// refused. One copy per process.
func TestSealedSelf(t *testing.T) {
	f, err := SealedSelf()
	require.NoError(t, err)
	require.NotNil(t, f, "the test binary runs from its file, not from a copy")
	again, err := SealedSelf()
	require.NoError(t, err)
	assert.Same(t, f, again, "one copy per process")
	path, err := Executable()
	require.NoError(t, err)
	assert.Regexp(t, `^/proc/\d+/fd/\d+$`, path)

	copied, err := os.ReadFile(path)
	require.NoError(t, err)
	self, err := os.ReadFile("/proc/self/exe")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(self, copied), "a copy of this program")

	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	assert.Equal(t, exeSeals, seals&exeSeals)

	// What a container that got hold of a berth process's
	// /proc/PID/exe would try once nothing executes it: open it for
	// writing (allowed on a memfd), write, truncate (refused).
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer w.Close()
	_, err = w.WriteAt([]byte("#!/bin/evil\n"), 0)
	assert.ErrorIs(t, err, unix.EPERM)
	assert.ErrorIs(t, w.Truncate(0), unix.EPERM)
}

// TestRunsSealed: a program started from the sealed copy knows it, and
// starts its own children from /proc/self/exe without a second copy.
func TestRunsSealed(t *testing.T) {
	assert.False(t, runsSealed(), "the test binary runs from its file")
	f, err := SealedSelf()
	require.NoError(t, err)
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	assert.Equal(t, exeSeals, seals&exeSeals, "what runsSealed looks for in a child")
}

// BenchmarkSealedCopy is the price of the sealed copy: what a process
// pays once, at its first container start (a daemon, a chapter's run),
// to copy its binary into a memfd and seal it. A process started from
// the copy (chapter 07's shim) pays nothing.
func BenchmarkSealedCopy(b *testing.B) {
	fi, err := os.Stat("/proc/self/exe")
	require.NoError(b, err)
	b.SetBytes(fi.Size())
	for b.Loop() {
		f, err := sealedCopy("/proc/self/exe")
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
}
