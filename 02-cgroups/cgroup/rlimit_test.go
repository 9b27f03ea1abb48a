package cgroup

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

func TestParseUlimit(t *testing.T) {
	valid := []struct {
		in   string
		want Ulimit
	}{
		{"nofile=1024", Ulimit{"nofile", 1024, 1024}},
		{"nofile=100:200", Ulimit{"nofile", 100, 200}},
		{"core=0", Ulimit{"core", 0, 0}},
		{"stack=-1", Ulimit{"stack", -1, -1}},
		{"memlock=64:-1", Ulimit{"memlock", 64, -1}},
	}
	for _, tc := range valid {
		got, err := ParseUlimit(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	// Docker's messages (go-units' ParseUlimit).
	invalid := []struct{ in, want string }{
		{"nofile", "invalid ulimit argument: nofile"},
		{"files=10", "invalid ulimit type: files"},
		{"nofile=1:2:3", "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"},
		{"nofile=200:100", "ulimit soft limit must be less than or equal to hard limit: 200 > 100"},
		{"nofile=-1:100", "ulimit soft limit must be less than or equal to hard limit: -1 > 100"},
		{"nofile=ten", "invalid ulimit nofile=ten"},
		{"nofile=-2", "a limit is a number, or -1 for unlimited"},
	}
	for _, tc := range invalid {
		_, err := ParseUlimit(tc.in)
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.want, tc.in)
	}
}

// TestRlimitsAllDockerNames: every name Docker accepts maps to its
// resource; the last value of a name wins; -1 is RLIM_INFINITY.
func TestRlimitsAllDockerNames(t *testing.T) {
	want := map[string]int{
		"core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
		"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
		"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
		"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
		"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
		"as": unix.RLIMIT_AS,
	}
	for name, res := range want {
		got, err := Rlimits([]Ulimit{{name, 1, 2}})
		require.NoError(t, err, name)
		assert.Equal(t, []namespace.Rlimit{{Resource: res, Soft: 1, Hard: 2}}, got, name)
	}
	got, err := Rlimits([]Ulimit{{"nofile", 1, 2}, {"nofile", 5, -1}})
	require.NoError(t, err)
	assert.Equal(t, []namespace.Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 5, Hard: math.MaxUint64}}, got)
	_, err = Rlimits([]Ulimit{{"nope", 1, 1}})
	assert.EqualError(t, err, "invalid ulimit type: nope")
}

func TestCheckOOMScoreAdj(t *testing.T) {
	for _, n := range []int{-1000, 0, 1000} {
		assert.NoError(t, CheckOOMScoreAdj(n), n)
	}
	assert.EqualError(t, CheckOOMScoreAdj(1001), "Invalid value 1001, range for oom score adj is [-1000, 1000]")
	assert.Error(t, CheckOOMScoreAdj(-1001))
}
