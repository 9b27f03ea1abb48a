// Command probe tries the syscalls that Docker's seccomp profile refuses
// to a container with the default capabilities, and prints one line:
//
//	Seccomp=2 keyctl=refused add_key=refused perf_event_open=refused clone3=ENOSYS unshare_user=refused
//
// "refused" is EPERM, the profile's answer; anything else is "allowed"
// (the kernel itself may still fail the call, as it does outside a
// filter). clone3 shows its errno: ENOSYS from the profile, EINVAL from
// the kernel for the deliberately empty arguments.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

func verdict(errno unix.Errno) string {
	if errno == unix.EPERM {
		return "refused"
	}
	return "allowed"
}

func main() {
	mode := "?"
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Seccomp:"); ok {
				mode = strings.TrimSpace(v)
			}
		}
		f.Close()
	}
	out := []string{"Seccomp=" + mode}

	// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
	sess := -3
	_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(sess), 0)
	out = append(out, "keyctl="+verdict(e))

	typ, desc, payload := []byte("user\x00"), []byte("berth-probe\x00"), []byte("x")
	proc := -2 // KEY_SPEC_PROCESS_KEYRING
	_, _, e = unix.Syscall6(unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(&typ[0])), uintptr(unsafe.Pointer(&desc[0])),
		uintptr(unsafe.Pointer(&payload[0])), 1, uintptr(proc), 0)
	out = append(out, "add_key="+verdict(e))

	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK, Bits: unix.PerfBitDisabled | unix.PerfBitExcludeKernel}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, _, e := unix.Syscall6(unix.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&attr)), 0, ^uintptr(0), ^uintptr(0), 0, 0)
	if e == 0 {
		unix.Close(int(fd))
	}
	out = append(out, "perf_event_open="+verdict(e))

	_, _, e = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	out = append(out, "clone3="+unix.ErrnoName(e))

	// Last: if it works, the probe is in a new user namespace.
	_, _, e = unix.Syscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	out = append(out, "unshare_user="+verdict(e))

	fmt.Println(strings.Join(out, " "))
}
