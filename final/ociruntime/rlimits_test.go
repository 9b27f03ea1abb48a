package ociruntime

import (
	"math"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

func TestRlimits(t *testing.T) {
	t.Parallel()
	got, err := Rlimits(nil)
	require.NoError(t, err)
	assert.Empty(t, got)

	// runc spec's default, plus every other name and RLIM_INFINITY.
	in := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024},
		{Type: "RLIMIT_CORE", Hard: math.MaxUint64, Soft: 0},
		{Type: "RLIMIT_AS", Hard: math.MaxUint64, Soft: math.MaxUint64},
		{Type: "RLIMIT_CPU", Hard: 10, Soft: 5},
		{Type: "RLIMIT_DATA", Hard: 1 << 30, Soft: 1 << 29},
		{Type: "RLIMIT_FSIZE", Hard: 1 << 20, Soft: 1 << 20},
		{Type: "RLIMIT_LOCKS", Hard: 100, Soft: 100},
		{Type: "RLIMIT_MEMLOCK", Hard: 65536, Soft: 65536},
		{Type: "RLIMIT_MSGQUEUE", Hard: 819200, Soft: 819200},
		{Type: "RLIMIT_NICE", Hard: 0, Soft: 0},
		{Type: "RLIMIT_NPROC", Hard: 4096, Soft: 4096},
		{Type: "RLIMIT_RSS", Hard: math.MaxUint64, Soft: math.MaxUint64},
		{Type: "RLIMIT_RTPRIO", Hard: 0, Soft: 0},
		{Type: "RLIMIT_RTTIME", Hard: 1000, Soft: 500},
		{Type: "RLIMIT_SIGPENDING", Hard: 1000, Soft: 1000},
		{Type: "RLIMIT_STACK", Hard: 8 << 20, Soft: 8 << 20},
	}
	got, err = Rlimits(in)
	require.NoError(t, err)
	byRes := map[int]namespace.Rlimit{}
	for _, r := range got {
		byRes[r.Resource] = r
	}
	assert.Len(t, byRes, len(in))
	assert.Equal(t, namespace.Rlimit{Resource: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 1024}, byRes[unix.RLIMIT_NOFILE])
	assert.Equal(t, namespace.Rlimit{Resource: unix.RLIMIT_CORE, Soft: 0, Hard: math.MaxUint64}, byRes[unix.RLIMIT_CORE])
	assert.Equal(t, namespace.Rlimit{Resource: unix.RLIMIT_AS, Soft: math.MaxUint64, Hard: math.MaxUint64}, byRes[unix.RLIMIT_AS])
	assert.Equal(t, namespace.Rlimit{Resource: unix.RLIMIT_CPU, Soft: 5, Hard: 10}, byRes[unix.RLIMIT_CPU])
	assert.Equal(t, namespace.Rlimit{Resource: unix.RLIMIT_RTTIME, Soft: 500, Hard: 1000}, byRes[unix.RLIMIT_RTTIME])
	assert.Equal(t, namespace.Rlimit{Resource: unix.RLIMIT_STACK, Soft: 8 << 20, Hard: 8 << 20}, byRes[unix.RLIMIT_STACK])
}

func TestRlimitsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    []specs.POSIXRlimit
		want string
	}{
		{"unknown", []specs.POSIXRlimit{{Type: "RLIMIT_FOO", Hard: 1, Soft: 1}}, "process.rlimits[0] RLIMIT_FOO"},
		{"Docker's spelling", []specs.POSIXRlimit{{Type: "nofile", Hard: 1, Soft: 1}}, `process.rlimits[0].type "nofile"`},
		{"lower case", []specs.POSIXRlimit{{Type: "RLIMIT_nofile", Hard: 1, Soft: 1}}, `"RLIMIT_nofile"`},
		{"twice", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1, Soft: 1}, {Type: "RLIMIT_NOFILE", Hard: 2, Soft: 2}}, "process.rlimits[1].type RLIMIT_NOFILE: given twice"},
		{"soft above hard", []specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Hard: 10, Soft: 20}}, "process.rlimits[0] RLIMIT_NPROC"},
		{"finite above 2^63", []specs.POSIXRlimit{{Type: "RLIMIT_AS", Hard: math.MaxUint64 - 1, Soft: 1}}, "process.rlimits[0] RLIMIT_AS hard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Rlimits(tt.r)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
