package ociruntime

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// Features is what `berth-runtime features` prints: the runtime spec's
// answer to "what may a config.json ask of this runtime?", which
// containerd and the CRI read before they choose options (whether to
// ask for a user namespace's idmapped mounts, which seccomp actions a
// profile may use). It must be true: a caller that believes a feature
// is there writes a config.json the runtime then refuses, and one that
// believes it absent works around it for nothing. So every list here is
// what the code that applies it accepts, and features_test.go checks
// the seccomp lists against chapter 03's compiler.
//
// version is the runtime's own, for the annotations.
func Features(version string) *features.Features {
	yes, no := true, false
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks: []string{"prestart", "createRuntime", "createContainer",
			"startContainer", "poststart", "poststop"},
		MountOptions: featureMountOptions(),
		Linux: &features.Linux{
			// The namespaces chapter 01 creates or joins by path. No
			// time namespace: the clone flag is not in its Config.
			Namespaces: []string{
				string(specs.CgroupNamespace), string(specs.IPCNamespace), string(specs.MountNamespace),
				string(specs.NetworkNamespace), string(specs.PIDNamespace), string(specs.UserNamespace),
				string(specs.UTSNamespace),
			},
			Capabilities: rootfs.AllCapabilities(),
			// cgroupfs only: --systemd-cgroup is refused (main.go).
			Cgroup: &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no},
			Seccomp: &features.Seccomp{
				Enabled: &yes,
				// Chapter 03's compiler (03-rootfs/seccomp): no
				// SCMP_ACT_NOTIFY, for want of an agent to notify.
				Actions:   slices.Clone(seccompActions),
				Operators: slices.Clone(seccompOperators),
				// amd64's three ABIs, the only table berth has.
				Archs: slices.Clone(seccompArchs),
				KnownFlags: []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow),
					string(specs.LinuxSeccompFlagWaitKillableRecv)},
				SupportedFlags: []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow)},
			},
			// A label asked for is refused by name (process.apparmorProfile,
			// process.selinuxLabel): berth loads no LSM policy.
			Apparmor: &features.Apparmor{Enabled: &no},
			Selinux:  &features.Selinux{Enabled: &no},
			IntelRdt: &features.IntelRdt{Enabled: &no},
			// mounts.go refuses idmap and mounts' uidMappings.
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}},
		},
		Annotations: map[string]string{
			"org.berth-project.runtime.version": version,
		},
	}
}

// The seccomp features (03-rootfs/seccomp's compile.go).
var (
	seccompActions = []string{
		string(specs.ActAllow), string(specs.ActErrno), string(specs.ActKill),
		string(specs.ActKillProcess), string(specs.ActKillThread), string(specs.ActLog),
		string(specs.ActTrace), string(specs.ActTrap),
	}
	seccompOperators = []string{
		string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan),
		string(specs.OpLessEqual), string(specs.OpLessThan), string(specs.OpMaskedEqual),
		string(specs.OpNotEqual),
	}
	seccompArchs = []string{string(specs.ArchX86), string(specs.ArchX86_64), string(specs.ArchX32)}
)

// featureMountOptions are the mounts' options config.json may use: those
// mounts.go applies (mount(2) flags and their opposites, propagation
// types, mount_setattr's recursive attributes, tmpcopyup), read from its
// own tables so that the list cannot drift from the code.
func featureMountOptions() []string {
	opts := []string{"tmpcopyup"}
	for o := range mountFlags {
		opts = append(opts, o)
	}
	for o := range propagationFlags {
		opts = append(opts, o)
	}
	for o := range recursiveOptions {
		opts = append(opts, o)
	}
	slices.Sort(opts)
	return opts
}
