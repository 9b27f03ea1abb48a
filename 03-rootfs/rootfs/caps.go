package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// DefaultCapabilities is Docker's default capability set: what root in a
// container keeps. /proc/self/status shows it as CapEff 00000000a80425fb.
var DefaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// capNames maps capability numbers to names, from linux/capability.h.
// Indexing by the constants makes the compiler check the numbering.
var capNames = [...]string{
	unix.CAP_CHOWN:              "CAP_CHOWN",
	unix.CAP_DAC_OVERRIDE:       "CAP_DAC_OVERRIDE",
	unix.CAP_DAC_READ_SEARCH:    "CAP_DAC_READ_SEARCH",
	unix.CAP_FOWNER:             "CAP_FOWNER",
	unix.CAP_FSETID:             "CAP_FSETID",
	unix.CAP_KILL:               "CAP_KILL",
	unix.CAP_SETGID:             "CAP_SETGID",
	unix.CAP_SETUID:             "CAP_SETUID",
	unix.CAP_SETPCAP:            "CAP_SETPCAP",
	unix.CAP_LINUX_IMMUTABLE:    "CAP_LINUX_IMMUTABLE",
	unix.CAP_NET_BIND_SERVICE:   "CAP_NET_BIND_SERVICE",
	unix.CAP_NET_BROADCAST:      "CAP_NET_BROADCAST",
	unix.CAP_NET_ADMIN:          "CAP_NET_ADMIN",
	unix.CAP_NET_RAW:            "CAP_NET_RAW",
	unix.CAP_IPC_LOCK:           "CAP_IPC_LOCK",
	unix.CAP_IPC_OWNER:          "CAP_IPC_OWNER",
	unix.CAP_SYS_MODULE:         "CAP_SYS_MODULE",
	unix.CAP_SYS_RAWIO:          "CAP_SYS_RAWIO",
	unix.CAP_SYS_CHROOT:         "CAP_SYS_CHROOT",
	unix.CAP_SYS_PTRACE:         "CAP_SYS_PTRACE",
	unix.CAP_SYS_PACCT:          "CAP_SYS_PACCT",
	unix.CAP_SYS_ADMIN:          "CAP_SYS_ADMIN",
	unix.CAP_SYS_BOOT:           "CAP_SYS_BOOT",
	unix.CAP_SYS_NICE:           "CAP_SYS_NICE",
	unix.CAP_SYS_RESOURCE:       "CAP_SYS_RESOURCE",
	unix.CAP_SYS_TIME:           "CAP_SYS_TIME",
	unix.CAP_SYS_TTY_CONFIG:     "CAP_SYS_TTY_CONFIG",
	unix.CAP_MKNOD:              "CAP_MKNOD",
	unix.CAP_LEASE:              "CAP_LEASE",
	unix.CAP_AUDIT_WRITE:        "CAP_AUDIT_WRITE",
	unix.CAP_AUDIT_CONTROL:      "CAP_AUDIT_CONTROL",
	unix.CAP_SETFCAP:            "CAP_SETFCAP",
	unix.CAP_MAC_OVERRIDE:       "CAP_MAC_OVERRIDE",
	unix.CAP_MAC_ADMIN:          "CAP_MAC_ADMIN",
	unix.CAP_SYSLOG:             "CAP_SYSLOG",
	unix.CAP_WAKE_ALARM:         "CAP_WAKE_ALARM",
	unix.CAP_BLOCK_SUSPEND:      "CAP_BLOCK_SUSPEND",
	unix.CAP_AUDIT_READ:         "CAP_AUDIT_READ",
	unix.CAP_PERFMON:            "CAP_PERFMON",
	unix.CAP_BPF:                "CAP_BPF",
	unix.CAP_CHECKPOINT_RESTORE: "CAP_CHECKPOINT_RESTORE",
}

// CapabilityName returns the name of capability number n, such as
// "CAP_CHOWN" for 0, or "" for a number it does not know.
func CapabilityName(n int) string {
	if n < 0 || n >= len(capNames) {
		return ""
	}
	return capNames[n]
}

// AllCapabilities names every capability berth knows: what a privileged
// container keeps (those the kernel does not know are left out by
// DropCapabilities).
func AllCapabilities() []string {
	all := make([]string, 0, len(capNames))
	for _, n := range capNames {
		if n != "" {
			all = append(all, n)
		}
	}
	return all
}

// ParseCapability returns the number of a capability named as Docker's
// --cap-add accepts it: "CAP_NET_ADMIN", "NET_ADMIN" or "net_admin".
func ParseCapability(name string) (int, error) {
	upper := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(upper, "CAP_") {
		upper = "CAP_" + upper
	}
	for n, c := range capNames {
		if c == upper {
			return n, nil
		}
	}
	return -1, fmt.Errorf("unknown capability %q", name)
}

// DropCapabilities reduces the process to the capabilities named in keep
// (names as ParseCapability reads them). Call it in the container's init
// after Enter, which needs CAP_SYS_ADMIN for its mounts, and before
// namespace.Run.
//
// Every other capability is dropped from the bounding set, the ceiling
// that nothing run later can raise: a root process gets the bounding set
// at execve, so the command keeps exactly these. The ambient set (what a
// non-root command would inherit) is cleared, the inheritable set emptied,
// and the effective and permitted sets become keep. A capability that this
// process does not hold itself cannot be kept: it is left out, as the
// kernel would. Names of capabilities newer than the running kernel
// (above /proc/sys/kernel/cap_last_cap) are ignored.
//
// Capabilities belong to threads. Where the Go runtime can
// (syscall.AllThreadsSyscall, in a program built without cgo), every
// thread is changed. In a program that links cgo only the calling thread
// is: call runtime.LockOSThread first and start the command from the same
// goroutine (namespace.Run does, if called by the same goroutine), or the
// command may start from a thread that kept everything.
func DropCapabilities(keep []string) error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	var keepMask uint64
	for _, name := range keep {
		n, err := ParseCapability(name)
		if err != nil {
			return err
		}
		if n <= last {
			keepMask |= 1 << n
		}
	}

	// The bounding set first, while CAP_SETPCAP, which dropping from it
	// needs, is certainly still effective.
	for n := 0; n <= last; n++ {
		if keepMask&(1<<n) != 0 {
			continue
		}
		if err := prctlAllThreads(unix.PR_CAPBSET_DROP, uintptr(n)); err != nil {
			return fmt.Errorf("dropping %s from the bounding set: %w", capLabel(n), err)
		}
	}
	// Ambient capabilities (Linux 4.3+) survive execve even for non-root
	// commands: none of them. EINVAL means the kernel has no ambient set.
	err = prctlAllThreads(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL)
	if err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clearing the ambient capabilities: %w", err)
	}

	// capset can only lower the permitted set: keep what we have of keep.
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := &[2]unix.CapUserData{}
	if err := unix.Capget(hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	have := uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	keepMask &= have
	// Version 3 takes the 64-bit sets as two 32-bit words, low first.
	lo, hi := uint32(keepMask), uint32(keepMask>>32)
	*data = [2]unix.CapUserData{
		{Effective: lo, Permitted: lo, Inheritable: 0},
		{Effective: hi, Permitted: hi, Inheritable: 0},
	}
	explain.Inside().Stepf(explain.Caps, "capset", "(effective=permitted=%#x, inheritable=0): %d kept, bounding and ambient sets dropped to match", keepMask, bitsSet(keepMask))
	if err := capsetAllThreads(hdr, data); err != nil {
		return fmt.Errorf("capset to %#x: %w", keepMask, err)
	}
	return nil
}

// NoNewPrivileges sets the no_new_privs bit (docker run --security-opt
// no-new-privileges): from now on execve can never grant more privileges
// than the process has, neither through setuid/setgid bits nor through
// file capabilities, so `sudo` or a setuid `ping` stop working as such. It
// is inherited by every child and cannot be unset. It has the same
// per-thread caveat as DropCapabilities.
func NoNewPrivileges() error {
	explain.Inside().Step(explain.Caps, "prctl", "(PR_SET_NO_NEW_PRIVS, 1): execve grants nothing more from now on")
	if err := prctlAllThreads(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	return nil
}

// prctlAllThreads and capsetAllThreads change per-thread credentials on
// every thread of the process if the runtime can, else on the calling
// thread only: AllThreadsSyscall answers ENOTSUP in programs that link
// cgo, whose threads it cannot reach.
func prctlAllThreads(option, arg2 uintptr) error {
	_, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, option, arg2, 0, 0, 0, 0)
	if errno == syscall.ENOTSUP {
		return unix.Prctl(int(option), arg2, 0, 0, 0)
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func capsetAllThreads(hdr *unix.CapUserHeader, data *[2]unix.CapUserData) error {
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if errno == syscall.ENOTSUP {
		return unix.Capset(hdr, &data[0])
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// lastCap is the highest capability number the running kernel knows.
// Older kernels stop below the 40 in capNames (asking them to drop a
// capability they do not have fails with EINVAL); newer ones may know
// more, which DropCapabilities drops too.
func lastCap() (int, error) {
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < 64 {
			return n, nil
		}
	}
	// No /proc: probe the bounding set, which answers EINVAL past the end.
	for n := 0; n < 64; n++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0); err != nil {
			if n == 0 {
				return 0, fmt.Errorf("reading the bounding set: %w", err)
			}
			return n - 1, nil
		}
	}
	return 63, nil
}

// capLabel names capability n for messages.
func capLabel(n int) string {
	if name := CapabilityName(n); name != "" {
		return name
	}
	return "capability " + strconv.Itoa(n)
}

// bitsSet counts the capabilities in a mask, for the explain trace.
func bitsSet(m uint64) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}

// CapSets are the five capability sets of a process, by name, as the OCI
// runtime spec's process.capabilities lists them. DropCapabilities is
// the short form Docker needs (one list for every set but the
// inheritable and ambient ones); an OCI runtime is told each set:
//
//	bounding     the ceiling: what any later execve can ever grant
//	permitted    what the thread may make effective (or pass on)
//	effective    what the kernel checks, now
//	inheritable  what survives an execve into a file that asks for it
//	ambient      what survives an execve into any file, for a non-root
//	             user (a subset of permitted ∩ inheritable)
//
// Root's command gets its bounding set as permitted and effective at
// execve whatever the other sets say; for any other uid the effective
// set after execve is the ambient set, which is why `runc spec
// --rootless` configs list capabilities there.
//
// The order that makes the sets stick is runc's (see the OCI runtime's
// Security.Apply): ApplyBounding while CAP_SETPCAP is still effective,
// KeepCaps(true) so that the switch to a non-root uid keeps the permitted
// set, the switch itself, then Apply.
type CapSets struct {
	Bounding    []string `json:"bounding,omitempty"`
	Effective   []string `json:"effective,omitempty"`
	Permitted   []string `json:"permitted,omitempty"`
	Inheritable []string `json:"inheritable,omitempty"`
	Ambient     []string `json:"ambient,omitempty"`
}

// capMasks are CapSets as bit masks, bit n for capability n.
type capMasks struct {
	bounding, effective, permitted, inheritable, ambient uint64
}

// Check reports what the kernel would refuse later, while there is
// still someone to tell: a name it does not know, an effective
// capability that is not permitted (capset fails). The message names
// the set. An ambient capability that is not both permitted and
// inheritable is not refused: the kernel would refuse to raise it, and
// runc leaves it out without a word (its own `runc spec` asks for three
// ambient capabilities and no inheritable set), so Apply does the same.
func (c CapSets) Check() error {
	m, err := c.masks(63)
	if err != nil {
		return err
	}
	if extra := m.effective &^ m.permitted; extra != 0 {
		return fmt.Errorf("capabilities: effective %s not in the permitted set", maskNames(extra))
	}
	return nil
}

// masks parses the five sets, leaving out capabilities above last (the
// kernel's cap_last_cap): runc, too, passes over the names a kernel does
// not know yet.
func (c CapSets) masks(last int) (capMasks, error) {
	var m capMasks
	for _, set := range []struct {
		name  string
		names []string
		mask  *uint64
	}{
		{"bounding", c.Bounding, &m.bounding},
		{"effective", c.Effective, &m.effective},
		{"permitted", c.Permitted, &m.permitted},
		{"inheritable", c.Inheritable, &m.inheritable},
		{"ambient", c.Ambient, &m.ambient},
	} {
		for _, name := range set.names {
			n, err := ParseCapability(name)
			if err != nil {
				return capMasks{}, fmt.Errorf("capabilities: %s: %w", set.name, err)
			}
			if n <= last {
				*set.mask |= 1 << n
			}
		}
	}
	return m, nil
}

// maskNames lists the capabilities of a mask, for messages.
func maskNames(m uint64) string {
	var names []string
	for n := 0; n < 64; n++ {
		if m&(1<<n) != 0 {
			names = append(names, capLabel(n))
		}
	}
	return strings.Join(names, ",")
}

// ApplyBounding drops from the bounding set every capability that
// c.Bounding does not name. Dropping needs CAP_SETPCAP in the effective
// set, so it comes first, before the uid switch and Apply.
func (c CapSets) ApplyBounding() error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	m, err := c.masks(last)
	if err != nil {
		return err
	}
	explain.Inside().Stepf(explain.Caps, "prctl", "(PR_CAPBSET_DROP) for each capability not in %#x: the ceiling of every later execve", m.bounding)
	for n := 0; n <= last; n++ {
		if m.bounding&(1<<n) != 0 {
			continue
		}
		if err := prctlAllThreads(unix.PR_CAPBSET_DROP, uintptr(n)); err != nil {
			return fmt.Errorf("dropping %s from the bounding set: %w", capLabel(n), err)
		}
	}
	return nil
}

// KeepCaps sets or clears PR_SET_KEEPCAPS. A thread that moves from uid
// 0 to other uids loses its permitted and effective sets, as a setuid
// root program that gives up root should; with keep-caps set it keeps
// the permitted set (the effective one is still cleared), so that Apply
// can then make the configured sets effective for a non-root user. It is
// cleared again at execve, and by KeepCaps(false) right after the
// switch.
func KeepCaps(on bool) error {
	var v uintptr
	if on {
		v = 1
	}
	if err := prctlAllThreads(unix.PR_SET_KEEPCAPS, v); err != nil {
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS, %d): %w", v, err)
	}
	return nil
}

// Apply sets the effective, permitted and inheritable sets with one
// capset, then the ambient set (cleared, then each raised). It cannot
// add to the permitted set, only take away: a capability the thread
// lacks fails with EPERM, named in the message. The bounding set is
// ApplyBounding's. Same per-thread caveat as DropCapabilities.
func (c CapSets) Apply() error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	m, err := c.masks(last)
	if err != nil {
		return err
	}
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := &[2]unix.CapUserData{
		{Effective: uint32(m.effective), Permitted: uint32(m.permitted), Inheritable: uint32(m.inheritable)},
		{Effective: uint32(m.effective >> 32), Permitted: uint32(m.permitted >> 32), Inheritable: uint32(m.inheritable >> 32)},
	}
	explain.Inside().Stepf(explain.Caps, "capset", "(effective=%#x, permitted=%#x, inheritable=%#x)", m.effective, m.permitted, m.inheritable)
	if err := capsetAllThreads(hdr, data); err != nil {
		have := &[2]unix.CapUserData{}
		if unix.Capget(&unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}, &have[0]) == nil {
			held := uint64(have[0].Permitted) | uint64(have[1].Permitted)<<32
			if missing := m.permitted &^ held; missing != 0 {
				return fmt.Errorf("capset: %w (this process does not hold %s)", err, maskNames(missing))
			}
		}
		return fmt.Errorf("capset (effective=%#x, permitted=%#x, inheritable=%#x): %w", m.effective, m.permitted, m.inheritable, err)
	}
	// EINVAL: a kernel before 4.3 has no ambient set; there is then
	// nothing to clear, and a set to raise is an error.
	err = prctlAllThreads(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL)
	if err != nil && !(errors.Is(err, unix.EINVAL) && m.ambient == 0) {
		return fmt.Errorf("clearing the ambient capabilities: %w", err)
	}
	// Only what is both permitted and inheritable can be raised (see
	// Check): the rest of the ambient set is left out, as runc does.
	if skipped := m.ambient &^ (m.permitted & m.inheritable); skipped != 0 {
		explain.Inside().Stepf(explain.Caps, "prctl", "(PR_CAP_AMBIENT_RAISE) not asked for %s: not both permitted and inheritable", maskNames(skipped))
		m.ambient &= m.permitted & m.inheritable
	}
	for n := 0; n <= last; n++ {
		if m.ambient&(1<<n) == 0 {
			continue
		}
		if err := prctl3AllThreads(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n)); err != nil {
			return fmt.Errorf("raising %s in the ambient set: %w", capLabel(n), err)
		}
	}
	if m.ambient != 0 {
		explain.Inside().Stepf(explain.Caps, "prctl", "(PR_CAP_AMBIENT_RAISE) %s: kept across execve by a non-root command", maskNames(m.ambient))
	}
	return nil
}

// prctl3AllThreads is prctlAllThreads with a third argument.
func prctl3AllThreads(option, arg2, arg3 uintptr) error {
	_, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, option, arg2, arg3, 0, 0, 0)
	if errno == syscall.ENOTSUP {
		return unix.Prctl(int(option), arg2, arg3, 0, 0)
	}
	if errno != 0 {
		return errno
	}
	return nil
}
