package ociruntime

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// DeviceRules is the container's device cgroup policy, as runc builds it
// from config.json (libcontainer/specconv):
//
//  1. linux.resources.devices, in order: the spec's own rules, usually
//     a deny-all ({"allow": false, "access": "rwm"}) and the exceptions
//     the caller wants;
//  2. runc's default allowed devices, which are Docker's
//     (cgroup.DefaultDevices without its deny-all): mknod of any
//     device, /dev/null, zero, full, random, urandom, tty, console,
//     ptmx, /dev/pts/*, /dev/net/tun;
//  3. an allow rwm for each node of linux.devices, which the container
//     is given and must be able to open.
//
// Chapter 02 replays the list as the v1 kernel would, from "deny
// everything" (so a config without rules still gets runc's defaults
// only), and compiles the same state to eBPF on v2.
//
// In a rule, an absent type is "a", an absent major or minor is the
// wildcard "*", an absent access is "rwm" (runc's reading of each).
// A rule of type "a" means every device and every access to the v1
// kernel, whatever follows it: "a" with a number or a partial access is
// refused rather than read two ways. linux.devices entries of type p
// (a FIFO) need no cgroup rule and get none.
//
// Pass the result as cgroup.Resources.Devices: Resources leaves it nil,
// which chapter 02 would read as Docker's default policy.
func DeviceRules(l *specs.Linux) ([]cgroup.DeviceRule, error) {
	var out []cgroup.DeviceRule
	if l != nil && l.Resources != nil {
		for i, d := range l.Resources.Devices {
			r, err := cgroupDeviceRule(d)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
			}
			out = append(out, r)
		}
	}
	out = append(out, cgroup.DefaultDevices()[1:]...)
	if l != nil {
		for i, d := range l.Devices {
			var t cgroup.DeviceType
			switch d.Type {
			case "c", "u":
				t = cgroup.CharDevice
			case "b":
				t = cgroup.BlockDevice
			case "p":
				continue
			default:
				return nil, fmt.Errorf("linux.devices[%d] %s: type %q: not c, b, u or p", i, d.Path, d.Type)
			}
			out = append(out, cgroup.AllowDevice(t, d.Major, d.Minor))
		}
	}
	// Replayed once now: a list that cgroup v1 cannot express (a deny
	// that cuts into an earlier wildcard allow) fails create here, with
	// the field's name, rather than in chapter 02 later.
	if _, err := cgroup.DeviceAllowed(out, cgroup.CharDevice, 1, 3, "rw"); err != nil {
		return nil, fmt.Errorf("linux.resources.devices: %w", err)
	}
	return out, nil
}

// cgroupDeviceRule translates one entry of linux.resources.devices.
func cgroupDeviceRule(d specs.LinuxDeviceCgroup) (cgroup.DeviceRule, error) {
	r := cgroup.DeviceRule{Allow: d.Allow, Major: cgroup.Wildcard, Minor: cgroup.Wildcard, Access: d.Access}
	switch d.Type {
	case "", "a":
		r.Type = cgroup.AnyDevice
	case "c":
		r.Type = cgroup.CharDevice
	case "b":
		r.Type = cgroup.BlockDevice
	default:
		return r, fmt.Errorf("type %q: not a, b or c", d.Type)
	}
	if d.Major != nil {
		if *d.Major < 0 {
			return r, fmt.Errorf("major %d: negative", *d.Major)
		}
		r.Major = *d.Major
	}
	if d.Minor != nil {
		if *d.Minor < 0 {
			return r, fmt.Errorf("minor %d: negative", *d.Minor)
		}
		r.Minor = *d.Minor
	}
	if r.Access == "" {
		r.Access = "rwm"
	}
	// Chapter 02's own check of a rule, with the value in the message:
	// access made of r, w and m; "a" only as "a *:* rwm".
	if _, err := cgroup.ParseDeviceRule(r.String()); err != nil {
		return r, err
	}
	// In chapter 02's order, so that rules read alike ("rwm", not "mwr").
	canon := ""
	for _, c := range "rwm" {
		if strings.ContainsRune(r.Access, c) {
			canon += string(c)
		}
	}
	r.Access = canon
	return r, nil
}
