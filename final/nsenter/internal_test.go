package nsenter

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestSealedExecutable: helpers start from an unchangeable in-memory
// copy of this program (CVE-2019-5736): same bytes, every write refused.
func TestSealedExecutable(t *testing.T) {
	path, err := executable()
	require.NoError(t, err)
	again, err := executable()
	require.NoError(t, err)
	assert.Equal(t, path, again, "one copy per process")
	assert.Regexp(t, `^/proc/\d+/fd/\d+$`, path)

	copied, err := os.ReadFile(path)
	require.NoError(t, err)
	self, err := os.ReadFile("/proc/self/exe")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(self, copied), "a copy of this program")

	seals, err := unix.FcntlInt(sealed.file.Fd(), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	want := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	assert.Equal(t, want, seals&want)

	// What a container that got hold of the helper's /proc/PID/exe
	// would try: open it for writing, write, truncate.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err, "opening is allowed; changing is not")
	defer f.Close()
	_, err = f.WriteAt([]byte("#!/bin/evil\n"), 0)
	assert.ErrorIs(t, err, unix.EPERM)
	assert.ErrorIs(t, f.Truncate(0), unix.EPERM)
}

// TestNamespacesToEnter: only the namespaces that differ from ours, in
// the order of Namespaces; an unknown PID is an error.
func TestNamespacesToEnter(t *testing.T) {
	nss, err := namespacesToEnter(os.Getpid(), nil)
	require.NoError(t, err)
	assert.Empty(t, nss, "our own process: nothing to enter")

	_, err = namespacesToEnter(1<<30, nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
