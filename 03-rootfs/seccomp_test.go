package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/03-rootfs/seccomp/seccomptest"
)

// TestSeccompFilter: every container runs under Docker's seccomp
// profile, seen from inside: /proc/self/status says Seccomp: 2 (filter
// mode), and the syscalls the profile leaves out fail with EPERM.
// --seccomp unconfined and a profile of one's own change that.
func TestSeccompFilter(t *testing.T) {
	labtest.Privileged(t)
	root := labtest.BusyboxRootfs(t)
	probe := seccomptest.Probe(t)
	custom := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, os.WriteFile(custom, []byte(`{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["add_key"], "action": "SCMP_ACT_ERRNO"}]
	}`), 0o644))

	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"Docker's default profile", nil, seccomptest.Refused},
		{"builtin", []string{"--seccomp", "builtin"}, seccomptest.Refused},
		{"unconfined", []string{"--seccomp", "unconfined"}, seccomptest.Unconfined},
		{"a custom profile", []string{"--seccomp", custom},
			"Seccomp=2 keyctl=allowed add_key=refused perf_event_open=allowed clone3=EINVAL unshare_user=allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Onto /tmp, which the image has: a volume on a new path
			// would create its mount point in the shared rootfs.
			flags := append([]string{"-v", filepath.Dir(probe) + ":/tmp:ro"}, tt.flags...)
			out := strings.TrimSpace(inRootfs(t, root, "/tmp/probe", flags...))
			if tt.want == seccomptest.Unconfined {
				// Without a filter the kernel's own rules decide the
				// rest (a sysctl may forbid user namespaces).
				out, tt.want = strings.Join(strings.Fields(out)[:3], " "), "Seccomp=0 keyctl=allowed add_key=allowed"
			}
			assert.Equal(t, tt.want, out)
		})
	}

	t.Run("busybox unshare -U", func(t *testing.T) {
		out := inRootfs(t, root, "grep Seccomp: /proc/self/status; unshare -U true 2>&1 && echo unshared || echo refused")
		assert.Equal(t, "Seccomp:\t2\nunshare: unshare(0x10000000): Operation not permitted\nrefused\n", out)
	})

	t.Run("a profile that is not there", func(t *testing.T) {
		_, errOut, status := runProgram(t, "run", "--rootfs", root, "--seccomp", "/no/such/profile.json", "--", "true")
		assert.NotEqual(t, 0, status)
		assert.Contains(t, errOut, "/no/such/profile.json")
	})
}
