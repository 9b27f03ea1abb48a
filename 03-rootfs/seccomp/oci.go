package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CompileSpec compiles the linux.seccomp section of an OCI runtime
// config.json: the form in which containerd, CRI-O and dockerd hand a
// profile to runc. It is Docker's profile format after moby has resolved
// it (Profile.rules does that step for berth's own containers): no
// conditions on capabilities or kernel versions left, one plain list of
// rules, so there is nothing to cache per capability set and the Filter's
// Caps stay empty.
//
// It reads as runc reads the section:
//
//   - nil, or no defaultAction and no syscalls: no filter (nil, nil);
//     runc runs such a container unconfined too.
//   - architectures: the ABIs the filter lets through; the host's own is
//     always in. Names are SCMP_ARCH_*; an unknown one is refused (as
//     libseccomp refuses it), a known one of another machine never
//     reaches this kernel and needs no branch.
//   - flags: SECCOMP_FILTER_FLAG_LOG and _SPEC_ALLOW are passed to
//     seccomp(2); _TSYNC is always set by Load.
//   - listenerPath, listenerMetadata, SCMP_ACT_NOTIFY and
//     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV need a seccomp agent that
//     receives the notifications: berth has none, so they are refused by
//     name.
//   - errnoRet (and defaultErrnoRet) only with SCMP_ACT_ERRNO or
//     SCMP_ACT_TRACE, the two actions that return a number.
func CompileSpec(s *specs.LinuxSeccomp) (*Filter, error) {
	return compileSpec(s, runtime.GOARCH)
}

func compileSpec(s *specs.LinuxSeccomp, goarch string) (*Filter, error) {
	if s == nil || (s.DefaultAction == "" && len(s.Syscalls) == 0) {
		return nil, nil
	}
	if s.DefaultAction == "" {
		return nil, errors.New("seccomp: defaultAction: empty, with syscalls listed")
	}
	if s.ListenerPath != "" {
		return nil, errors.New("seccomp: listenerPath: berth has no seccomp agent to notify (SCMP_ACT_NOTIFY is not supported)")
	}
	if s.ListenerMetadata != "" {
		return nil, errors.New("seccomp: listenerMetadata: berth has no seccomp agent to notify (SCMP_ACT_NOTIFY is not supported)")
	}
	for _, a := range s.Architectures {
		if !slices.Contains(knownArchs, a) {
			return nil, fmt.Errorf("seccomp: architectures: unknown architecture %q", a)
		}
	}
	for i, c := range s.Syscalls {
		if len(c.Names) == 0 {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: no names", i)
		}
	}
	return compileRules(s, goarch)
}

// knownArchs are the SCMP_ARCH_* names of the runtime spec (and of
// libseccomp).
var knownArchs = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
	specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
	specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
	specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
}
