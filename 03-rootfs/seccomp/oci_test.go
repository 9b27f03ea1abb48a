package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func uptr(v uint) *uint { return &v }

// TestCompileSpecDecisions compiles linux.seccomp sections as a
// config.json gives them and runs the programs on syscalls.
func TestCompileSpecDecisions(t *testing.T) {
	t.Parallel()
	allowAll := specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	denyMkdir := specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uptr(uint(unix.EACCES))}},
	}
	allowList := specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uptr(uint(unix.ENOTSUP)),
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchAARCH64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "no_such_syscall"}, Action: specs.ActAllow},
			{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0, Op: specs.OpEqualTo}}},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff, ValueTwo: 8, Op: specs.OpMaskedEqual}}},
			{Names: []string{"setuid"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1000, Op: specs.OpGreaterEqual}}},
			{Names: []string{"getpid"}, Action: specs.ActKillProcess},
			{Names: []string{"getppid"}, Action: specs.ActKill},
			{Names: []string{"gettid"}, Action: specs.ActTrace, ErrnoRet: uptr(7)},
			{Names: []string{"uname"}, Action: specs.ActLog},
			{Names: []string{"getuid"}, Action: specs.ActTrap},
		},
	}
	tests := []struct {
		name string
		s    specs.LinuxSeccomp
		c    call
		want uint32
	}{
		{"allow all: read", allowAll, call{arch: x86_64, nr: unix.SYS_READ}, allow},
		{"allow all: i386 not listed is killed", allowAll, call{arch: i386, nr: 3}, retKillProcess},
		{"errnoRet on a rule", denyMkdir, call{arch: x86_64, nr: unix.SYS_MKDIR}, retErrno | uint32(unix.EACCES)},
		{"errnoRet, the other name", denyMkdir, call{arch: x86_64, nr: unix.SYS_MKDIRAT}, retErrno | uint32(unix.EACCES)},
		{"not in the rules: default", denyMkdir, call{arch: x86_64, nr: unix.SYS_RMDIR}, allow},
		{"allow list: read", allowList, call{arch: x86_64, nr: unix.SYS_READ}, allow},
		{"allow list: defaultErrnoRet", allowList, call{arch: x86_64, nr: unix.SYS_OPEN}, retErrno | uint32(unix.ENOTSUP)},
		{"i386 listed: its read (3) allowed", allowList, call{arch: i386, nr: 3}, allow},
		{"SCMP_CMP_EQ holds", allowList, call{arch: x86_64, nr: unix.SYS_KILL, args: [6]uint64{1, 0}}, allow},
		{"SCMP_CMP_EQ fails", allowList, call{arch: x86_64, nr: unix.SYS_KILL, args: [6]uint64{1, 9}}, retErrno | uint32(unix.ENOTSUP)},
		{"SCMP_CMP_MASKED_EQ holds", allowList, call{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0x108}}, allow},
		{"SCMP_CMP_MASKED_EQ fails", allowList, call{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0x109}}, retErrno | uint32(unix.ENOTSUP)},
		{"SCMP_CMP_GE holds", allowList, call{arch: x86_64, nr: unix.SYS_SETUID, args: [6]uint64{1000}}, allow},
		{"SCMP_CMP_GE fails", allowList, call{arch: x86_64, nr: unix.SYS_SETUID, args: [6]uint64{0}}, retErrno | uint32(unix.ENOTSUP)},
		{"SCMP_ACT_KILL_PROCESS", allowList, call{arch: x86_64, nr: unix.SYS_GETPID}, retKillProcess},
		{"SCMP_ACT_KILL is a thread's", allowList, call{arch: x86_64, nr: unix.SYS_GETPPID}, retKillThread},
		{"SCMP_ACT_TRACE with errnoRet", allowList, call{arch: x86_64, nr: unix.SYS_GETTID}, retTrace | 7},
		{"SCMP_ACT_LOG", allowList, call{arch: x86_64, nr: unix.SYS_UNAME}, retLog},
		{"SCMP_ACT_TRAP", allowList, call{arch: x86_64, nr: unix.SYS_GETUID}, retTrap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := compileSpec(&tt.s, "amd64")
			require.NoError(t, err)
			require.NotNil(t, f)
			assert.Empty(t, f.Caps)
			assert.Equal(t, tt.want, run(t, f.Program, tt.c))
		})
	}
}

func TestCompileSpecNoFilter(t *testing.T) {
	t.Parallel()
	for _, s := range []*specs.LinuxSeccomp{nil, {}, {Architectures: []specs.Arch{specs.ArchX86_64}}} {
		f, err := CompileSpec(s)
		require.NoError(t, err)
		assert.Nil(t, f, "%+v", s)
	}
}

func TestCompileSpecFlags(t *testing.T) {
	t.Parallel()
	f, err := compileSpec(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{
		specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC"}}, "amd64")
	require.NoError(t, err)
	assert.Equal(t, uint(unix.SECCOMP_FILTER_FLAG_LOG|unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW), f.Flags)
}

// TestCompileSpecRefusals: what berth cannot honour fails with the
// field's name.
func TestCompileSpecRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    specs.LinuxSeccomp
		want string
	}{
		{"listenerPath", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock"}, "listenerPath"},
		{"listenerMetadata", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "x"}, "listenerMetadata"},
		{"SCMP_ACT_NOTIFY as a rule", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}, "SCMP_ACT_NOTIFY"},
		{"SCMP_ACT_NOTIFY as the default", specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "SCMP_ACT_NOTIFY"},
		{"wait-killable flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
		{"unknown flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW"}}, "SECCOMP_FILTER_FLAG_NEW"},
		{"unknown action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, "SCMP_ACT_MAYBE"},
		{"unknown architecture", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, "SCMP_ARCH_Z80"},
		{"unknown operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"},
			Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}}}}, "SCMP_CMP_ABOUT"},
		{"argument 6", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"},
			Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "argument index 6"},
		{"errnoRet on ALLOW", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"},
			Action: specs.ActAllow, ErrnoRet: uptr(1)}}}, "errnoRet 1"},
		{"defaultErrnoRet on KILL", specs.LinuxSeccomp{DefaultAction: specs.ActKill, DefaultErrnoRet: uptr(1)}, "errnoRet 1"},
		{"errnoRet above 16 bits", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(1 << 16)}, "16 bits"},
		{"rules without a default", specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}}, "defaultAction"},
		{"a rule without names", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}}, "syscalls[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileSpec(&tt.s, "amd64")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestCompileSpecOfDockersProfile: Docker's default profile, resolved as
// dockerd resolves it before it writes config.json (containerd's own
// default is the same list), compiles through CompileSpec to the very
// program berth's own containers get.
func TestCompileSpecOfDockersProfile(t *testing.T) {
	t.Parallel()
	for _, caps := range [][]string{defaultCaps, withSysAdmin} {
		resolved, err := Profile{}.rules(caps)
		require.NoError(t, err)
		fromSpec, err := compileSpec(resolved, "amd64")
		require.NoError(t, err)
		own, err := compile(Profile{}, caps, "amd64")
		require.NoError(t, err)
		assert.Equal(t, own.Program, fromSpec.Program)
		assert.Equal(t, own.Flags, fromSpec.Flags)
	}
}
