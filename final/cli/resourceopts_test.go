package cli

import (
	"testing"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The less common limits reach the request as the docker CLI puts them
// there.
func TestRunFlags_LessCommonLimits(t *testing.T) {
	spec := mustParseRun(t, "-m", "64m", "--memory-swap", "192m", "--memory-swappiness", "10",
		"--cpu-period", "50000", "--cpu-quota", "25000", "--cpu-rt-period", "1000000", "--cpu-rt-runtime", "5000",
		"--blkio-weight", "300", "--blkio-weight-device", "/dev/vda:400",
		"--device-read-bps", "/dev/vda:1mb", "--device-write-bps", "/dev/vda:2048",
		"--device-read-iops", "/dev/vda:100", "--device-write-iops", "/dev/vda:200", "busybox")
	r := spec.HostConfig.Resources
	assert.Equal(t, int64(192<<20), r.MemorySwap)
	require.NotNil(t, r.MemorySwappiness)
	assert.Equal(t, int64(10), *r.MemorySwappiness)
	assert.Equal(t, []int64{50000, 25000, 1000000, 5000}, []int64{r.CPUPeriod, r.CPUQuota, r.CPURealtimePeriod, r.CPURealtimeRuntime})
	assert.Equal(t, uint16(300), r.BlkioWeight)
	assert.Equal(t, []*blkiodev.WeightDevice{{Path: "/dev/vda", Weight: 400}}, r.BlkioWeightDevice)
	assert.Equal(t, []*blkiodev.ThrottleDevice{{Path: "/dev/vda", Rate: 1 << 20}}, r.BlkioDeviceReadBps)
	assert.Equal(t, []*blkiodev.ThrottleDevice{{Path: "/dev/vda", Rate: 2048}}, r.BlkioDeviceWriteBps)
	assert.Equal(t, []*blkiodev.ThrottleDevice{{Path: "/dev/vda", Rate: 100}}, r.BlkioDeviceReadIOps)
	assert.Equal(t, []*blkiodev.ThrottleDevice{{Path: "/dev/vda", Rate: 200}}, r.BlkioDeviceWriteIOps)

	r = mustParseRun(t, "-m", "64m", "--memory-swap", "-1", "busybox").HostConfig.Resources
	assert.Equal(t, int64(-1), r.MemorySwap)
	require.NotNil(t, r.MemorySwappiness)
	assert.Equal(t, int64(-1), *r.MemorySwappiness, "not given: -1, as docker sends it")

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--memory-swappiness", "101"}, "Valid memory swappiness range is 0-100"},
		{[]string{"--blkio-weight", "5"}, "Valid blkio weight range is 10-1000"},
		{[]string{"--blkio-weight-device", "/dev/vda:5"}, "invalid weight for device"},
		{[]string{"--device-read-bps", "vda:1mb"}, "bad format for path: vda"},
		{[]string{"--device-read-iops", "/dev/vda:x"}, "invalid rate for device"},
		{[]string{"--memory-swap", "lots"}, "lots"},
	} {
		_, err := parseRun(t, nil, append(tc.args, "busybox")...)
		assert.ErrorContains(t, err, tc.err, "%v", tc.args)
	}
}
