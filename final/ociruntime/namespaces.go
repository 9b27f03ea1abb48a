package ociruntime

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// namespaceConfig translates linux.namespaces, the id mappings, the
// hostname, the sysctls, the rlimits and oomScoreAdj into chapter 01's
// Config (how init is forked) and Spec (what init sets up from inside).
//
// The spec lists the namespaces a container gets: a type without a path
// is a new one, with a path the one to join, and a type not listed is
// the runtime's own (the host's). Chapter 01 forks with every namespace
// but user by default; "host" and "join" are its HostX and JoinX (a
// mount namespace not listed is HostMounts).
func namespaceConfig(s *specs.Spec) (namespace.Config, namespace.Spec, error) {
	var cfg namespace.Config
	var ns namespace.Spec
	l := s.Linux
	listed := map[specs.LinuxNamespaceType]string{}
	for _, n := range l.Namespaces {
		if _, dup := listed[n.Type]; dup {
			return cfg, ns, fmt.Errorf("linux.namespaces: %s listed twice", n.Type)
		}
		listed[n.Type] = n.Path
	}
	for t, path := range listed {
		switch t {
		case specs.PIDNamespace:
			cfg.JoinPidns = path
		case specs.NetworkNamespace:
			cfg.JoinNetns = path
		case specs.IPCNamespace:
			cfg.JoinIpcns = path
		case specs.UTSNamespace:
			cfg.JoinUtsns = path
		case specs.CgroupNamespace:
			cfg.JoinCgroupns = path
		case specs.MountNamespace:
			// Joined by the forking thread, after it unshared its
			// filesystem state (chapter 01's startOnOwnThread).
			cfg.JoinMntns = path
		case specs.UserNamespace:
			if path != "" {
				return cfg, ns, fmt.Errorf("linux.namespaces: user namespace path %s: joining a user namespace is not supported", path)
			}
			cfg.UserNS = true
		case specs.TimeNamespace:
			return cfg, ns, errors.New("linux.namespaces: time: not supported")
		default:
			return cfg, ns, fmt.Errorf("linux.namespaces: unknown type %q", t)
		}
	}
	_, hasPID := listed[specs.PIDNamespace]
	_, hasNet := listed[specs.NetworkNamespace]
	_, hasIPC := listed[specs.IPCNamespace]
	_, hasCgroup := listed[specs.CgroupNamespace]
	if _, ok := listed[specs.MountNamespace]; !ok {
		// The runtime's own mount namespace, as the spec says of a
		// type not listed: init mounts config.json's mounts on the
		// host, under root.path, and chroots (Rootfs.HostMountNS);
		// create records those mounts and delete unmounts them.
		// Not from a user namespace of the container's own: the
		// host's mount table belongs to the host's user namespace,
		// where init's root would be nobody (chapter 01 refuses it).
		if cfg.UserNS {
			return cfg, ns, errors.New("linux.namespaces: user without mount: a user namespace's root cannot mount in the runtime's mount namespace")
		}
		cfg.HostMounts, ns.HostMounts = true, true
	}
	_, hasUTS := listed[specs.UTSNamespace]
	cfg.HostUTS = !hasUTS
	cfg.HostPID = !hasPID
	cfg.HostNetwork = !hasNet
	cfg.HostIPC = !hasIPC
	// A new cgroup namespace is made by init itself (chapter 01's
	// Setup), once it is in its cgroup; a joined one, or none, is kept.
	cfg.HostCgroupns = !hasCgroup || cfg.JoinCgroupns != ""

	if err := idMappings(s, &cfg); err != nil {
		return cfg, ns, err
	}

	ns.Hostname = s.Hostname
	ns.HostCgroupns = cfg.HostCgroupns
	ns.Sysctls = l.Sysctl
	for k := range l.Sysctl {
		if err := namespace.CheckSysctl(k, cfg.HostNetwork); err != nil {
			return cfg, ns, fmt.Errorf("linux.sysctl: %w", err)
		}
	}
	p := s.Process
	rl, err := Rlimits(p.Rlimits)
	if err != nil {
		return cfg, ns, err
	}
	ns.Rlimits = rl
	if p.OOMScoreAdj != nil {
		ns.OOMScoreAdj, ns.SetOOMScoreAdj = *p.OOMScoreAdj, true
	}
	ns.Command = namespace.Command{Args: p.Args, Env: p.Env, Dir: p.Cwd}
	return cfg, ns, cfg.Validate()
}

// idMappings takes linux.uidMappings and gidMappings. Chapter 01 maps
// one range from container id 0 (the form of /etc/subuid), which is
// what every caller of a runtime writes; anything else is refused.
func idMappings(s *specs.Spec, cfg *namespace.Config) error {
	l := s.Linux
	if !cfg.UserNS {
		if len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0 {
			return errors.New("linux.uidMappings: set without a user namespace")
		}
		return nil
	}
	one := func(field string, m []specs.LinuxIDMapping) (namespace.IDRange, error) {
		if len(m) != 1 || m[0].ContainerID != 0 || m[0].Size == 0 {
			return namespace.IDRange{}, fmt.Errorf("linux.%s: berth-runtime maps exactly one range starting at container id 0 (got %v)", field, m)
		}
		return namespace.IDRange{Base: int(m[0].HostID), Size: int(m[0].Size)}, nil
	}
	var err error
	if cfg.UIDs, err = one("uidMappings", l.UIDMappings); err != nil {
		return err
	}
	cfg.GIDs, err = one("gidMappings", l.GIDMappings)
	return err
}
