package namespace

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// Kernel parameters (sysctls, the files under /proc/sys) are mostly
// global: one value for the whole machine. A few belong to a namespace,
// and then each namespace has its own copy, which its root may change
// without touching the host's. They show what a namespace covers:
//
//	IPC namespace      kernel.msgmax, msgmnb, msgmni, sem, shmall,
//	                   shmmax, shmmni, shm_rmid_forced; fs.mqueue.*
//	UTS namespace      kernel.domainname (kernel.hostname too, but
//	                   --hostname sets that)
//	network namespace  net.*  (only when the container has its own)
//
// A container may set only these (docker run --sysctl): anything else,
// vm.swappiness say, would change the host's value for every process.

// ipcSysctls are the System V IPC parameters of an IPC namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
	"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true,
	"kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// SysctlList is the value of the repeatable --sysctl KEY=VALUE flag.
type SysctlList map[string]string

func (l *SysctlList) String() string {
	if l == nil {
		return ""
	}
	keys := make([]string, 0, len(*l))
	for k, v := range *l {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// Set parses one KEY=VALUE.
func (l *SysctlList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("invalid sysctl %q: want KEY=VALUE", s)
	}
	if *l == nil {
		*l = SysctlList{}
	}
	(*l)[k] = v
	return nil
}

// CheckSysctl reports whether the container may set the kernel parameter
// key: it must belong to one of the container's own namespaces.
// hostNetwork says the container shares the host's network namespace.
func CheckSysctl(key string, hostNetwork bool) error {
	switch {
	case ipcSysctls[key], strings.HasPrefix(key, "fs.mqueue."):
		return nil // the container always has its own IPC namespace
	case key == "kernel.domainname":
		return nil // its own UTS namespace
	case key == "kernel.hostname":
		return fmt.Errorf("sysctl %q is not allowed as it conflicts with the container's hostname: use --hostname", key)
	case strings.HasPrefix(key, "net."):
		if hostNetwork {
			return fmt.Errorf("sysctl %q is not allowed in the host's network namespace", key)
		}
		if iface := sysctlInterface(key); iface != "" && iface != "all" && iface != "default" && iface != "lo" {
			return fmt.Errorf("sysctl %q names the interface %s, which is not there yet when init sets sysctls (chapter 05 attaches it beside init): set %s, which interfaces made later inherit",
				key, iface, strings.Replace(key, "."+iface+".", ".default.", 1))
		}
		return nil
	}
	return fmt.Errorf("sysctl %q is not in a separate kernel namespace: it would change the host's value", key)
}

// sysctlInterface is the interface that a per-interface parameter
// names (net.ipv4.conf.eth0.forwarding: eth0), or "".
func sysctlInterface(key string) string {
	f := strings.Split(key, ".")
	if len(f) >= 5 && (f[1] == "ipv4" || f[1] == "ipv6") && (f[2] == "conf" || f[2] == "neigh") {
		return f[3]
	}
	return ""
}

// sysctlPath is the /proc/sys file of key: dots become slashes.
// ("net.ipv4.conf.eth0.forwarding" is net/ipv4/conf/eth0/forwarding;
// an interface name with a dot is written with a slash, as sysctl(8)
// accepts.)
func sysctlPath(key string) (string, error) {
	rel := strings.ReplaceAll(key, ".", "/")
	for _, part := range strings.Split(rel, "/") {
		if part == "" { // also what "..", a way out of /proc/sys, becomes
			return "", fmt.Errorf("invalid sysctl %q", key)
		}
	}
	return filepath.Join("/proc/sys", rel), nil
}

// writeSysctls sets the kernel parameters in the calling process's
// namespaces. It runs in init, before the root filesystem is entered:
// chapter 03 makes /proc/sys read-only there, for good.
//
// Which copy a /proc/sys file shows is decided by the namespaces of the
// process that opens it, not by the proc mount: the host's /proc, still
// mounted here, already shows the container's IPC and network values.
func writeSysctls(sysctls map[string]string) error {
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable order, and stable errors
	for _, k := range keys {
		p, err := sysctlPath(k)
		if err != nil {
			return err
		}
		explain.Inside().Write(explain.Sysctls, p, sysctls[k])
		if err := os.WriteFile(p, []byte(sysctls[k]), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, sysctls[k], err)
		}
	}
	return nil
}
