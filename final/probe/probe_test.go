package probe

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestVerdictTellsARefusalFromAnyOtherAnswer(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "allowed"},
		{unix.EPERM, "EPERM"},
		{fmt.Errorf("keyctl: %w", unix.EPERM), "EPERM"},
		{unix.ENOSYS, "ENOSYS"},
		{unix.ENODEV, "allowed"}, // add_key of an unknown type, let through
		{unix.EACCES, "allowed"}, // perf_event_paranoid, not a filter
	} {
		assert.Equal(t, tc.want, verdict(tc.err), "%v", tc.err)
	}
}

func TestErrnoName(t *testing.T) {
	assert.Equal(t, "ok", errnoName(nil))
	assert.Equal(t, "EPERM", errnoName(&os.PathError{Op: "open", Path: "/x", Err: unix.EPERM}))
	assert.Equal(t, "ENXIO", errnoName(unix.ENXIO))
	assert.Equal(t, "plain", errnoName(errors.New("plain")))
}

func TestDropInodes(t *testing.T) {
	assert.Equal(t, "rw,size=65536k,mode=755", dropInodes("rw,size=65536k,mode=755,inode64"))
	assert.Equal(t, "", dropInodes(""))
}

// TestReportHasEverySection runs the probe where the test runs: not in a
// container, but every section must be there, and nothing may name a
// container or the host's cgroup paths.
func TestReportHasEverySection(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, Report(&out, "/nonexistent/berth-probe"))
	sections := map[string]int{}
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		section, _, _ := strings.Cut(line, " ")
		sections[section]++
	}
	for _, s := range []string{"id", "status", "rlimit", "syscall", "device", "dev", "mount", "path", "sysctl", "cgroupns", "cgroup"} {
		assert.Positive(t, sections[s], "section %s missing from:\n%s", s, out.String())
	}
	assert.Equal(t, len(statusKeys), sections["status"])
	assert.Equal(t, len(rlimits)+1, sections["rlimit"])
	assert.Contains(t, out.String(), "syscall unshare-user ", "the nested check reports even when the probe cannot be re-executed")
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.HasPrefix(line, "cgroupns ") {
			assert.Regexp(t, `^cgroupns \d+:[^ ]* (root|nested)$`, line)
		}
	}
	_, err := os.Stat(fmt.Sprintf("/dev/.berth-probe-%d", os.Getpid()))
	assert.ErrorIs(t, err, os.ErrNotExist, "the probe's device directory is removed")
}
