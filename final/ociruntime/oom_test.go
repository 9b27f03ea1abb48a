package ociruntime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// What containerd's runc.v2 shim needs from a runtime to report an OOM
// kill (critest's "Container OOM" spec, Kubernetes' OOMKilled), on
// cgroup v1: after create it reads init's cgroups from /proc/PID/cgroup
// (the runtime's cgroupsPath is not read), and after start it registers
// an eventfd on that memory cgroup's memory.oom_control through
// cgroup.event_control. So, when create returns, init must be in the
// container's own cgroup in every hierarchy, with the limits written
// there; and an OOM kill in that cgroup must reach an eventfd
// registered then.
//
// The registration comes after start returns, which is after the
// process was executed (the exec FIFO's end of file, for runc as for
// berth): a process that meets its limit within milliseconds can be
// killed before the shim listens, under either runtime. That race is
// the shim's; this test registers where the shim reads the cgroup
// (right after create) so that it checks berth's part, not the race.
func TestOOMSeenWhereTheShimLooks(t *testing.T) {
	const limit = 15 << 20 // critest's
	tests := []struct {
		name string
		mem  *specs.LinuxMemory
	}{
		{"memory limit", &specs.LinuxMemory{Limit: ptr(int64(limit))}},
		// containerd gives swap = limit when the pod asks for both.
		{"memory and swap limits", &specs.LinuxMemory{Limit: ptr(int64(limit)), Swap: ptr(int64(limit))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.mem.Swap != nil && !memswAccounting() {
				t.Skip("no swap accounting (memory.memsw.*) on this host")
			}
			id := labtest.Unique("oom")
			spec := baseSpec(labtest.BusyboxRootfs(t), "sh", "-c", "dd if=/dev/zero of=/dev/null bs=20M")
			spec.Linux.Resources = &specs.LinuxResources{Memory: tt.mem}
			c := e.create(spec, id, nil, CreateOptions{})
			pid := c.Init.Pid()

			// As the shim reads it, the moment create has returned:
			// init is in every cgroup the container has.
			in := map[string]bool{}
			memDir := ""
			for ctrl, rel := range procCgroups(t, pid) {
				mnt := "/sys/fs/cgroup/" + ctrl // a v1 hierarchy is mounted by its controllers' names
				if ctrl == "" {
					mnt = "/sys/fs/cgroup/unified" // a hybrid host's cgroup2
				}
				dir := filepath.Join(mnt, rel)
				in[dir] = true
				if strings.Contains(","+ctrl+",", ",memory,") {
					memDir = dir
				}
			}
			require.NotEmpty(t, c.Record.CgroupPaths)
			for _, own := range c.Record.CgroupPaths {
				assert.True(t, in[filepath.Clean(own)], "init is not in the container's cgroup %s", own)
			}
			if memDir == "" {
				t.Skip("no cgroup v1 memory hierarchy: the shim watches memory.events on v2 instead")
			}
			assert.Equal(t, strconv.Itoa(limit), readTrim(t, filepath.Join(memDir, "memory.limit_in_bytes")),
				"the limit must be written before create returns")
			efd := registerOOM(t, memDir)

			require.NoError(t, Start(e.root, id))
			code, err := c.Init.Wait()
			require.NoError(t, err)
			require.Equal(t, 128+int(unix.SIGKILL), code, "the process must end by the OOM killer's SIGKILL (critest's 137)")

			var n [8]byte
			_, err = unix.Read(efd, n[:])
			require.NoError(t, err, "no OOM notification on the eventfd registered after create")
			assert.Contains(t, readTrim(t, filepath.Join(memDir, "memory.oom_control")), "oom_kill 1")
		})
	}
}

// procCgroups is /proc/PID/cgroup as controller list → path.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		require.Len(t, parts, 3, "/proc/%d/cgroup: %q", pid, s.Text())
		out[strings.TrimPrefix(parts[1], "name=")] = parts[2]
	}
	require.NoError(t, s.Err())
	return out
}

// registerOOM does what the shim does (containerd's cgroups package,
// memoryEvent): an eventfd, memory.oom_control open, "EFD FD" written
// into cgroup.event_control. The eventfd is non-blocking: the test
// reads it once the process is gone.
func registerOOM(t *testing.T, memDir string) int {
	t.Helper()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(efd) })
	ctl, err := os.Open(filepath.Join(memDir, "memory.oom_control"))
	require.NoError(t, err)
	defer ctl.Close()
	require.NoError(t, os.WriteFile(filepath.Join(memDir, "cgroup.event_control"),
		[]byte(fmt.Sprintf("%d %d", efd, ctl.Fd())), 0))
	return efd
}

func memswAccounting() bool {
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s: missing", p)
	}
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}
