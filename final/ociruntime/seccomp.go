package ociruntime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/03-rootfs/seccomp"
)

// compileSeccomp compiles linux.seccomp on the host (chapter 03's
// compiler, seccomp.CompileSpec): defaultAction, defaultErrnoRet,
// architectures, flags and the syscalls' names, action, errnoRet and
// argument comparisons. Nil when config.json has no filter. What the
// compiler cannot honour (SCMP_ACT_NOTIFY and its listenerPath, the
// flags that go with it, an unknown action, operator or architecture)
// fails create, named under linux.seccomp.
func compileSeccomp(s *specs.LinuxSeccomp) (*seccomp.Filter, error) {
	f, err := seccomp.CompileSpec(s)
	if err != nil {
		return nil, fmt.Errorf("linux.%w", err)
	}
	return f, nil
}
