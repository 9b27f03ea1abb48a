package cgroup

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DeviceType is the kind of device a rule is about: "c" for character
// devices (terminals, /dev/null, /dev/kmsg), "b" for block devices
// (disks), "a" for both.
type DeviceType string

const (
	CharDevice  DeviceType = "c"
	BlockDevice DeviceType = "b"
	AnyDevice   DeviceType = "a"
)

// Wildcard as a major or minor number matches every number ("*").
const Wildcard int64 = -1

// DeviceRule is one line of a device policy, in the kernel's v1 words: it
// allows (or denies) the access Access ("r" read, "w" write, "m" mknod, in
// any combination) to the devices of type Type with numbers Major:Minor.
//
// Its text form is the one devices.allow takes and `docker run
// --device-cgroup-rule` passes on: "c 1:3 rwm", "c 136:* rw", "a *:* rwm".
type DeviceRule struct {
	Allow  bool       `json:"allow"`
	Type   DeviceType `json:"type"`
	Major  int64      `json:"major"` // Wildcard for any
	Minor  int64      `json:"minor"` // Wildcard for any
	Access string     `json:"access"`
}

// AllowDevice is the rule "TYPE MAJOR:MINOR rwm", allowed.
func AllowDevice(t DeviceType, major, minor int64) DeviceRule {
	return DeviceRule{Allow: true, Type: t, Major: major, Minor: minor, Access: "rwm"}
}

// DefaultDevices returns Docker's default device policy: nothing but the
// harmless character devices every program expects in /dev, and mknod of
// any device (making a node is harmless when it cannot be opened; images
// ship them, and tar needs to extract them).
//
// The first rule denies everything; the rest are the exceptions.
func DefaultDevices() []DeviceRule {
	return []DeviceRule{
		{Allow: false, Type: AnyDevice, Major: Wildcard, Minor: Wildcard, Access: "rwm"},
		{Allow: true, Type: CharDevice, Major: Wildcard, Minor: Wildcard, Access: "m"},
		{Allow: true, Type: BlockDevice, Major: Wildcard, Minor: Wildcard, Access: "m"},
		AllowDevice(CharDevice, 1, 3),          // /dev/null
		AllowDevice(CharDevice, 1, 5),          // /dev/zero
		AllowDevice(CharDevice, 1, 7),          // /dev/full
		AllowDevice(CharDevice, 1, 8),          // /dev/random
		AllowDevice(CharDevice, 1, 9),          // /dev/urandom
		AllowDevice(CharDevice, 5, 0),          // /dev/tty
		AllowDevice(CharDevice, 5, 1),          // /dev/console
		AllowDevice(CharDevice, 5, 2),          // /dev/ptmx
		AllowDevice(CharDevice, 136, Wildcard), // /dev/pts/*
		AllowDevice(CharDevice, 10, 200),       // /dev/net/tun
	}
}

// AllowAllDevices is the policy of a privileged container (docker run
// --privileged): every device, every access, as on the host. Pass it as
// Resources.Devices. The kernel still checks file permissions and
// capabilities; only the cgroup's own veto is lifted.
var AllowAllDevices = []DeviceRule{AllowDevice(AnyDevice, Wildcard, Wildcard)}

// ParseDeviceRule parses a rule in the kernel's (and Docker's) text form,
// "TYPE MAJOR:MINOR ACCESS": "c 1:3 rwm", "c 10:* rw", "a *:* rwm". The
// rule allows; a policy is a deny-all followed by allowing rules.
func ParseDeviceRule(s string) (DeviceRule, error) {
	bad := func(why string) (DeviceRule, error) {
		return DeviceRule{}, fmt.Errorf("invalid device cgroup rule %q: %s (want TYPE MAJOR:MINOR ACCESS, such as 'c 1:3 rwm')", s, why)
	}
	f := strings.Split(s, " ")
	if len(f) != 3 {
		return bad("not three fields separated by single spaces")
	}
	r := DeviceRule{Allow: true, Type: DeviceType(f[0]), Access: f[2]}
	if r.Type != CharDevice && r.Type != BlockDevice && r.Type != AnyDevice {
		return bad("the type must be c, b or a")
	}
	maj, minor, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad("no colon between major and minor")
	}
	var err error
	if r.Major, err = parseDeviceNumber(maj); err != nil {
		return bad("major " + err.Error())
	}
	if r.Minor, err = parseDeviceNumber(minor); err != nil {
		return bad("minor " + err.Error())
	}
	if err := r.validate(); err != nil {
		return bad(err.Error())
	}
	return r, nil
}

// parseDeviceNumber parses a major or minor number: digits, or "*".
func parseDeviceNumber(s string) (int64, error) {
	if s == "*" {
		return Wildcard, nil
	}
	// ParseUint refuses the signs ParseInt would take ("+1", "-1").
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or *", s)
	}
	return int64(n), nil
}

// String formats the rule as devices.allow and devices.deny take it. A
// rule that denies reads the same: which file it goes to says "deny".
func (r DeviceRule) String() string {
	num := func(n int64) string {
		if n == Wildcard {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return string(r.Type) + " " + num(r.Major) + ":" + num(r.Minor) + " " + r.Access
}

// validate checks one rule.
//
// An "a" rule must be "a *:* rwm". The v1 kernel reads any line starting
// with "a" as "every device, every access", whatever follows; accepting
// "a 1:3 r" would let the two interfaces disagree about what it means.
func (r DeviceRule) validate() error {
	if r.Access == "" || len(r.Access) > 3 || strings.Trim(r.Access, "rwm") != "" ||
		strings.Count(r.Access, "r") > 1 || strings.Count(r.Access, "w") > 1 || strings.Count(r.Access, "m") > 1 {
		return fmt.Errorf("access %q must be made of r, w and m", r.Access)
	}
	for _, n := range []int64{r.Major, r.Minor} {
		if n < Wildcard || n > 1<<32-1 {
			return fmt.Errorf("device number %d out of range", n)
		}
	}
	switch r.Type {
	case CharDevice, BlockDevice:
	case AnyDevice:
		if r.Major != Wildcard || r.Minor != Wildcard || accessBits(r.Access) != accAll {
			return fmt.Errorf("a rule of type a must be 'a *:* rwm' (%q)", r.String())
		}
	default:
		return fmt.Errorf("device type %q must be c, b or a", r.Type)
	}
	return nil
}

// Access bits, as the kernel numbers them in both interfaces (v1's
// ACC_* and v2's BPF_DEVCG_ACC_*).
const (
	accMknod = 1
	accRead  = 2
	accWrite = 4
	accAll   = accMknod | accRead | accWrite
)

func accessBits(access string) uint32 {
	var b uint32
	for _, c := range access {
		switch c {
		case 'm':
			b |= accMknod
		case 'r':
			b |= accRead
		case 'w':
			b |= accWrite
		}
	}
	return b
}

func accessString(b uint32) string {
	var s string
	if b&accRead != 0 {
		s += "r"
	}
	if b&accWrite != 0 {
		s += "w"
	}
	if b&accMknod != 0 {
		s += "m"
	}
	return s
}

// whitelist is what the v1 kernel keeps for a devices cgroup after a
// series of writes: a default (allow or deny everything) and a list of
// exceptions to it. Both interfaces enforce this same state: v1 is given
// the writes and builds it, v2's program is compiled from it (see
// devicePolicy). So a policy means on v2 exactly what it means on v1.
type whitelist struct {
	allowAll   bool         // the default
	exceptions []DeviceRule // each the opposite of the default
}

// devicePolicy replays rules the way the v1 kernel applies writes to a
// new cgroup's devices.allow and devices.deny, starting, like Docker,
// from "deny everything":
//
//   - "a *:* rwm" sets the default and forgets every exception;
//   - a rule that goes against the default adds an exception (merged
//     with one for the same devices);
//   - a rule that agrees with the default takes its access away from the
//     exception for exactly the same devices, if there is one.
//
// The last case is where a policy stops reading "in order, the last rule
// that matches wins": allowing "c 1:* rwm" and then denying "c 1:11 w"
// would not take /dev/kmsg away on v1 (there is no exception "c 1:11" to
// remove). devicePolicy refuses such a policy rather than let v1 and v2
// disagree.
func devicePolicy(rules []DeviceRule) (whitelist, error) {
	w := whitelist{allowAll: false}
	for _, r := range rules {
		if err := r.validate(); err != nil {
			return whitelist{}, fmt.Errorf("device rule %s: %w", r, err)
		}
		if r.Type == AnyDevice {
			w = whitelist{allowAll: r.Allow}
			continue
		}
		if r.Allow != w.allowAll {
			w.addException(r)
			continue
		}
		if err := w.removeException(r); err != nil {
			return whitelist{}, err
		}
	}
	return w, nil
}

func (w *whitelist) addException(r DeviceRule) {
	for i, e := range w.exceptions {
		if e.Type == r.Type && e.Major == r.Major && e.Minor == r.Minor {
			w.exceptions[i].Access = accessString(accessBits(e.Access) | accessBits(r.Access))
			return
		}
	}
	w.exceptions = append(w.exceptions, r)
}

func (w *whitelist) removeException(r DeviceRule) error {
	for i, e := range w.exceptions {
		if e.Type == r.Type && e.Major == r.Major && e.Minor == r.Minor {
			left := accessBits(e.Access) &^ accessBits(r.Access)
			if left == 0 {
				w.exceptions = slices.Delete(w.exceptions, i, i+1)
			} else {
				w.exceptions[i].Access = accessString(left)
			}
			return nil
		}
	}
	for _, e := range w.exceptions {
		if e.overlaps(r) {
			verb := "deny"
			if r.Allow {
				verb = "allow"
			}
			return fmt.Errorf("device rule %s (%s) overlaps the earlier %s without matching it exactly: "+
				"cgroup v1 cannot express that; list exact rules instead", r, verb, e)
		}
	}
	return nil // agrees with the default already
}

// overlaps reports whether some device and access fall under both rules.
func (r DeviceRule) overlaps(o DeviceRule) bool {
	same := func(a, b int64) bool { return a == Wildcard || b == Wildcard || a == b }
	return (r.Type == o.Type || r.Type == AnyDevice || o.Type == AnyDevice) &&
		same(r.Major, o.Major) && same(r.Minor, o.Minor) &&
		accessBits(r.Access)&accessBits(o.Access) != 0
}

// allows answers, as the kernel does, whether access (accRead|accWrite...)
// to device t major:minor is allowed. With a deny default, one exception
// must grant all of the access asked for; with an allow default, no
// exception may deny any part of it. (v1's match_exception and
// match_exception_partial.) The eBPF program of the v2 interface is this
// function, compiled.
func (w whitelist) allows(t DeviceType, major, minor int64, access uint32) bool {
	for _, e := range w.exceptions {
		if e.Type != t && e.Type != AnyDevice {
			continue
		}
		if (e.Major != Wildcard && e.Major != major) || (e.Minor != Wildcard && e.Minor != minor) {
			continue
		}
		bits := accessBits(e.Access)
		if !w.allowAll && access&^bits == 0 {
			return true
		}
		if w.allowAll && access&bits != 0 {
			return false
		}
	}
	return w.allowAll
}

// DeviceAllowed tells whether the policy rules let a process open (access
// "r", "w", "rw") or make (access "m") device t major:minor. It is what the
// kernel decides with the policy in force, on v1 and v2 alike.
func DeviceAllowed(rules []DeviceRule, t DeviceType, major, minor int64, access string) (bool, error) {
	w, err := devicePolicy(rules)
	if err != nil {
		return false, err
	}
	return w.allows(t, major, minor, accessBits(access)), nil
}
