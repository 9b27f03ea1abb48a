package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// berth run --device and --device-cgroup-rule against a real berthd: the
// effect is checked from inside the container.
func TestBerthdDevices(t *testing.T) {
	e := newBerthd(t)
	out := e.ok(t, "run", "--rm", "busybox", "sh", "-c", "mknod /dev/k c 1 11 && (true >/dev/k) 2>&1; true")
	assert.Contains(t, out, "can't create /dev/k: Operation not permitted")

	out = e.ok(t, "run", "--rm", "--device", "/dev/kmsg:/dev/log:w", "busybox", "sh", "-c",
		"echo '<7>berth: device test' >/dev/log && echo written")
	assert.Equal(t, "written\n", out)
	// Read only: the cgroup refuses the write. (Not reads, to show the
	// difference: opening kmsg to read also needs CAP_SYSLOG, which a
	// container lacks.)
	out = e.ok(t, "run", "--rm", "--device", "/dev/kmsg:/dev/log:r", "busybox", "sh", "-c", "(true >/dev/log) 2>&1; true")
	assert.Contains(t, out, "can't create /dev/log: Operation not permitted")

	out = e.ok(t, "run", "--rm", "--device-cgroup-rule", "c 1:11 w", "busybox", "sh", "-c",
		"mknod /dev/k c 1 11 && true >/dev/k && echo opened")
	assert.Equal(t, "opened\n", out)

	_, errOut, code := e.berth(t, "", "run", "--rm", "--device", "/etc/hostname", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, `error gathering device information while adding custom device "/etc/hostname": not a device node`)
}
