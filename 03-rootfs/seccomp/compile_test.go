package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// call is one syscall as the kernel shows it to a filter.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// run interprets prog on c as the kernel's classic BPF interpreter would,
// for the instructions the compiler emits.
func run(t *testing.T, prog Program, c call) uint32 {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[offNr:], c.nr)
	binary.LittleEndian.PutUint32(data[offArch:], c.arch)
	for i, a := range c.args {
		binary.LittleEndian.PutUint64(data[offArgs+8*i:], a)
	}
	var acc uint32
	for pc, steps := 0, 0; pc < len(prog); pc++ {
		steps++
		require.Less(t, steps, len(prog)+1, "the program loops")
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			require.Less(t, int(in.K), 61)
			require.Zero(t, in.K%4, "unaligned load")
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			var ok bool
			switch in.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				ok = acc == in.K
			case unix.BPF_JGT:
				ok = acc > in.K
			case unix.BPF_JGE:
				ok = acc >= in.K
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

var (
	defaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	withSysAdmin = append([]string{"CAP_SYS_ADMIN"}, defaultCaps...)
)

const (
	allow  = retAllow
	eperm  = retErrno | uint32(unix.EPERM)
	enosys = retErrno | uint32(unix.ENOSYS)
	x86_64 = unix.AUDIT_ARCH_X86_64
	i386   = unix.AUDIT_ARCH_I386
)

func nsFlags() uint64 {
	return unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP
}

// TestDefaultProfileDecisions runs Docker's default profile, compiled
// for Docker's default capabilities or with CAP_SYS_ADMIN added, on
// syscalls that show what it is for.
func TestDefaultProfileDecisions(t *testing.T) {
	threadFlags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS)
	tests := []struct {
		name string
		caps []string
		c    call
		want uint32
	}{
		{"read", defaultCaps, call{arch: x86_64, nr: unix.SYS_READ}, allow},
		{"execve", defaultCaps, call{arch: x86_64, nr: unix.SYS_EXECVE}, allow},
		{"capset (the init's cap drop)", defaultCaps, call{arch: x86_64, nr: unix.SYS_CAPSET}, allow},
		{"keyctl: keys are not namespaced", defaultCaps, call{arch: x86_64, nr: unix.SYS_KEYCTL}, eperm},
		{"add_key", defaultCaps, call{arch: x86_64, nr: unix.SYS_ADD_KEY}, eperm},
		{"mount without CAP_SYS_ADMIN", defaultCaps, call{arch: x86_64, nr: unix.SYS_MOUNT}, eperm},
		{"mount with CAP_SYS_ADMIN", withSysAdmin, call{arch: x86_64, nr: unix.SYS_MOUNT}, allow},
		{"unshare without CAP_SYS_ADMIN", defaultCaps, call{arch: x86_64, nr: unix.SYS_UNSHARE, args: [6]uint64{unix.CLONE_NEWUSER}}, eperm},
		{"unshare with CAP_SYS_ADMIN", withSysAdmin, call{arch: x86_64, nr: unix.SYS_UNSHARE, args: [6]uint64{unix.CLONE_NEWUSER}}, allow},
		{"clone of a thread", defaultCaps, call{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{threadFlags}}, allow},
		{"fork (clone with SIGCHLD)", defaultCaps, call{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{uint64(unix.SIGCHLD)}}, allow},
		{"clone into a new user namespace", defaultCaps, call{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}}, eperm},
		{"clone into a new net namespace", defaultCaps, call{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWNET}}, eperm},
		{"clone, flags in the high word are not namespaces", defaultCaps, call{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{1<<40 | uint64(unix.SIGCHLD)}}, allow},
		{"clone with namespaces and CAP_SYS_ADMIN", withSysAdmin, call{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{nsFlags()}}, allow},
		{"clone3: ENOSYS, so libc falls back to clone", defaultCaps, call{arch: x86_64, nr: unix.SYS_CLONE3}, enosys},
		{"clone3 with CAP_SYS_ADMIN", withSysAdmin, call{arch: x86_64, nr: unix.SYS_CLONE3}, allow},
		{"personality(PER_LINUX)", defaultCaps, call{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0}}, allow},
		{"personality(UNAME26)", defaultCaps, call{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0x20000}}, allow},
		{"personality query", defaultCaps, call{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0xffffffff}}, allow},
		{"personality(ADDR_NO_RANDOMIZE)", defaultCaps, call{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0x0040000}}, eperm},
		{"personality, a high word", defaultCaps, call{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{1 << 32}}, eperm},
		{"socket(AF_INET)", defaultCaps, call{arch: x86_64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_INET}}, allow},
		{"socket(AF_NETLINK)", defaultCaps, call{arch: x86_64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_NETLINK}}, allow},
		{"socket(AF_VSOCK)", defaultCaps, call{arch: x86_64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_VSOCK}}, eperm},
		{"perf_event_open", defaultCaps, call{arch: x86_64, nr: unix.SYS_PERF_EVENT_OPEN}, eperm},
		{"perf_event_open with CAP_PERFMON", append([]string{"CAP_PERFMON"}, defaultCaps...), call{arch: x86_64, nr: unix.SYS_PERF_EVENT_OPEN}, allow},
		{"reboot", defaultCaps, call{arch: x86_64, nr: unix.SYS_REBOOT}, eperm},
		{"a syscall newer than the profile", defaultCaps, call{arch: x86_64, nr: 1000}, enosys},
		{"i386 keyctl (288 there)", defaultCaps, call{arch: i386, nr: 288}, eperm},
		{"i386 read (3 there)", defaultCaps, call{arch: i386, nr: 3}, allow},
		{"i386 250 is fadvise64, not keyctl", defaultCaps, call{arch: i386, nr: 250}, allow},
		{"i386 personality query", defaultCaps, call{arch: i386, nr: 136, args: [6]uint64{0xffffffff}}, allow},
		{"x32 read", defaultCaps, call{arch: x86_64, nr: x32Bit + 0}, allow},
		{"x32 keyctl", defaultCaps, call{arch: x86_64, nr: x32Bit + 250}, eperm},
		{"an ABI the profile does not cover", defaultCaps, call{arch: unix.AUDIT_ARCH_AARCH64, nr: 0}, retKillProcess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := compile(Profile{}, tt.caps, "amd64")
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("%#x", tt.want), fmt.Sprintf("%#x", run(t, f.Program, tt.c)))
		})
	}
}

// TestCustomProfile: a profile of the user's, with the operators the
// default profile does not use.
func TestCustomProfile(t *testing.T) {
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
		{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
		{"names":["getpid"],"action":"SCMP_ACT_KILL_PROCESS"},
		{"names":["write"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":2,"op":"SCMP_CMP_GT"}]},
		{"names":["lseek"],"action":"SCMP_ACT_ERRNO","args":[{"index":2,"value":4294967296,"op":"SCMP_CMP_GE"}]},
		{"names":["dup"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":5,"op":"SCMP_CMP_LT"},{"index":1,"value":7,"op":"SCMP_CMP_NE"}]},
		{"names":["dup2"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":3,"op":"SCMP_CMP_EQ"},{"index":0,"value":4,"op":"SCMP_CMP_EQ"}]},
		{"names":["close"],"action":"SCMP_ACT_LOG","args":[{"index":0,"value":9,"op":"SCMP_CMP_LE"}]}
	]}`
	p, err := ParseOption(profile)
	require.NoError(t, err)
	f, err := compile(p, defaultCaps, "amd64")
	require.NoError(t, err)
	eacces := retErrno | uint32(unix.EACCES)
	tests := []struct {
		name string
		c    call
		want uint32
	}{
		{"mkdir", call{arch: x86_64, nr: unix.SYS_MKDIR}, eacces},
		{"mkdirat", call{arch: x86_64, nr: unix.SYS_MKDIRAT}, eacces},
		{"keyctl: default allow", call{arch: x86_64, nr: unix.SYS_KEYCTL}, allow},
		{"getpid", call{arch: x86_64, nr: unix.SYS_GETPID}, retKillProcess},
		{"write to 1", call{arch: x86_64, nr: unix.SYS_WRITE, args: [6]uint64{1}}, allow},
		{"write to 2", call{arch: x86_64, nr: unix.SYS_WRITE, args: [6]uint64{2}}, allow},
		{"write to 3", call{arch: x86_64, nr: unix.SYS_WRITE, args: [6]uint64{3}}, eperm},
		{"write to 1<<32", call{arch: x86_64, nr: unix.SYS_WRITE, args: [6]uint64{1 << 32}}, eperm},
		{"lseek 4G-1", call{arch: x86_64, nr: unix.SYS_LSEEK, args: [6]uint64{0, 0, 1<<32 - 1}}, allow},
		{"lseek 4G", call{arch: x86_64, nr: unix.SYS_LSEEK, args: [6]uint64{0, 0, 1 << 32}}, eperm},
		{"lseek 5G", call{arch: x86_64, nr: unix.SYS_LSEEK, args: [6]uint64{0, 0, 5 << 30}}, eperm},
		{"dup(4, 8): both hold", call{arch: x86_64, nr: unix.SYS_DUP, args: [6]uint64{4, 8}}, eperm},
		{"dup(4, 7)", call{arch: x86_64, nr: unix.SYS_DUP, args: [6]uint64{4, 7}}, allow},
		{"dup(5, 8)", call{arch: x86_64, nr: unix.SYS_DUP, args: [6]uint64{5, 8}}, allow},
		{"dup(4, 7+1<<32): NE looks at the high word", call{arch: x86_64, nr: unix.SYS_DUP, args: [6]uint64{4, 7 + 1<<32}}, eperm},
		{"dup2(3): same argument twice means either", call{arch: x86_64, nr: unix.SYS_DUP2, args: [6]uint64{3}}, eperm},
		{"dup2(4)", call{arch: x86_64, nr: unix.SYS_DUP2, args: [6]uint64{4}}, eperm},
		{"dup2(5)", call{arch: x86_64, nr: unix.SYS_DUP2, args: [6]uint64{5}}, allow},
		{"close(9)", call{arch: x86_64, nr: unix.SYS_CLOSE, args: [6]uint64{9}}, retLog},
		{"close(10)", call{arch: x86_64, nr: unix.SYS_CLOSE, args: [6]uint64{10}}, allow},
		{"default allow: new syscalls too", call{arch: x86_64, nr: 1000}, allow},
		{"no archMap: i386 is not covered", call{arch: i386, nr: 3}, retKillProcess},
		{"no archMap: x32 is not covered", call{arch: x86_64, nr: x32Bit}, retKillProcess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, fmt.Sprintf("%#x", tt.want), fmt.Sprintf("%#x", run(t, f.Program, tt.c)))
		})
	}
}

func TestParseOption(t *testing.T) {
	tests := []struct {
		in      string
		want    Profile
		wantErr string
	}{
		{in: "unconfined", want: Unconfined},
		{in: "builtin", want: Profile{}},
		{in: `{"defaultAction":"SCMP_ACT_ALLOW"}`, want: Profile{JSON: `{"defaultAction":"SCMP_ACT_ALLOW"}`}},
		{in: `{"defaultAction":`, wantErr: "Decoding seccomp profile"},
		{in: `{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/run/agent.sock"}`, wantErr: "seccomp agent"},
		{in: "/etc/profile.json", wantErr: "Decoding seccomp profile"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParseOption(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, profile, want string }{
		{"notify", `{"defaultAction":"SCMP_ACT_NOTIFY"}`, "agent"},
		{"operator", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ODD"}]}]}`, "SCMP_CMP_ODD"},
		{"index", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, "index 6"},
		{"flag", `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}`, "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(Profile{JSON: tt.profile}, nil, "amd64")
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := compile(Profile{}, nil, "riscv64")
	require.ErrorContains(t, err, "riscv64")
}

func TestUnconfined(t *testing.T) {
	f, err := Compile(Unconfined, defaultCaps)
	require.NoError(t, err)
	assert.True(t, f.Unconfined)
	assert.Empty(t, f.Program)
	// A profile with neither a default action nor rules: dockerd runs
	// such a container without a filter.
	f, err = Compile(Profile{JSON: `{}`}, defaultCaps)
	require.NoError(t, err)
	assert.True(t, f.Unconfined)
}

func TestFilterJSON(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("filters are compiled for amd64 only")
	}
	f, err := Compile(Profile{}, defaultCaps)
	require.NoError(t, err)
	data, err := json.Marshal(f)
	require.NoError(t, err)
	var back Filter
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, *f, back)
	t.Logf("default profile: %d instructions, %d bytes of JSON", len(f.Program), len(data))

	again, err := Compile(Profile{}, append([]string(nil), defaultCaps[1:]...))
	require.NoError(t, err)
	assert.NotSame(t, f, again, "other capabilities, another filter")
	same, err := Compile(Profile{}, append(defaultCaps[1:], defaultCaps[0]))
	require.NoError(t, err)
	assert.Same(t, f, same, "the same capabilities in another order: the cached filter")
}

// TestEveryNumber checks the binary search against the profile for every
// syscall number of every ABI, not a sample: a syscall the profile
// allows without conditions is allowed, one it does not name is refused
// with EPERM (ENOSYS above the highest it names), for Docker's default
// capabilities and with CAP_SYS_ADMIN.
func TestEveryNumber(t *testing.T) {
	all, err := abis("amd64")
	require.NoError(t, err)
	for _, caps := range [][]string{defaultCaps, withSysAdmin} {
		s, err := Profile{}.rules(caps)
		require.NoError(t, err)
		_, def, rules, err := parse(s)
		require.NoError(t, err)
		f, err := compile(Profile{}, caps, "amd64")
		require.NoError(t, err)
		for _, x := range all {
			want := map[uint32]uint32{}
			var highest uint32
			for _, e := range x.entries(rules) {
				highest = max(highest, e.nr)
				if e.fixed {
					want[e.nr] = e.ret
				}
			}
			conditional := map[uint32]bool{}
			for _, e := range x.entries(rules) {
				conditional[e.nr] = !e.fixed
			}
			for n := x.offset; n < x.offset+600; n++ {
				if conditional[n] {
					continue // the tables above test their arguments
				}
				expect, ok := want[n]
				switch {
				case ok:
				case n > highest:
					expect = enosys
				default:
					expect = def
				}
				got := run(t, f.Program, call{arch: x.audit, nr: n})
				require.Equal(t, fmt.Sprintf("%#x", expect), fmt.Sprintf("%#x", got), "%s syscall %d, caps %v", x.name, n-x.offset, caps)
			}
		}
	}
}
