package ociruntime

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// denyMkdir is a small linux.seccomp: everything allowed but making
// directories, which fails with errnoRet.
func denyMkdir(errno unix.Errno) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno,
			ErrnoRet: resPtr[uint](uint(errno))}},
	}
}

func TestNewSecurity(t *testing.T) {
	t.Parallel()
	umask := uint32(0o027)
	caps := &specs.LinuxCapabilities{
		Bounding:  []string{"CAP_KILL", "CAP_CHOWN"},
		Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL", "CAP_CHOWN"},
	}
	spec := &specs.Spec{
		Process: &specs.Process{
			User:            specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{10, 20}, Umask: &umask},
			Capabilities:    caps,
			NoNewPrivileges: true,
		},
		Linux: &specs.Linux{Seccomp: denyMkdir(unix.ENOTSUP)},
	}
	s, err := NewSecurity(spec)
	require.NoError(t, err)
	assert.Equal(t, spec.Process.User, s.User)
	assert.Equal(t, &rootfs.CapSets{Bounding: caps.Bounding, Effective: caps.Effective, Permitted: caps.Permitted}, s.Caps)
	assert.True(t, s.NoNewPrivileges)
	require.NotNil(t, s.Seccomp)
	assert.NotEmpty(t, s.Seccomp.Program)

	// It travels to init as JSON, whole.
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var back Security
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s.User, back.User)
	assert.Equal(t, s.Caps, back.Caps)
	assert.Equal(t, s.Seccomp.Program, back.Seccomp.Program)

	// Absent capabilities and seccomp: none kept (Apply's nil Caps),
	// no filter.
	s, err = NewSecurity(&specs.Spec{Process: &specs.Process{}})
	require.NoError(t, err)
	assert.Nil(t, s.Caps)
	assert.Nil(t, s.Seccomp)
	s, err = NewSecurity(&specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{}}})
	require.NoError(t, err)
	assert.Nil(t, s.Seccomp, "a seccomp section without action or rules is no filter, as under runc")
}

func TestNewSecurityRefused(t *testing.T) {
	t.Parallel()
	proc := func(p specs.Process) *specs.Spec { return &specs.Spec{Process: &p} }
	withLinux := func(l specs.Linux) *specs.Spec { return &specs.Spec{Process: &specs.Process{}, Linux: &l} }
	tests := []struct {
		name string
		spec *specs.Spec
		want string
	}{
		{"no spec", nil, "process: missing"},
		{"no process", &specs.Spec{}, "process: missing"},
		{"apparmor", proc(specs.Process{ApparmorProfile: "docker-default"}), "process.apparmorProfile"},
		{"selinux", proc(specs.Process{SelinuxLabel: "system_u:system_r:svirt_lxc_net_t:s0"}), "process.selinuxLabel"},
		{"scheduler", proc(specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedFIFO}}), "process.scheduler"},
		{"ioPriority", proc(specs.Process{IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}}), "process.ioPriority"},
		{"username", proc(specs.Process{User: specs.User{Username: "ContainerUser"}}), "process.user.username"},
		{"effective not permitted", proc(specs.Process{Capabilities: &specs.LinuxCapabilities{Effective: []string{"CAP_KILL"}}}),
			"process.capabilities: effective CAP_KILL"},
		{"mountLabel", withLinux(specs.Linux{MountLabel: "system_u:object_r:svirt_sandbox_file_t:s0"}), "linux.mountLabel"},
		{"seccomp listener", withLinux(specs.Linux{Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/a.sock"}}),
			"linux.seccomp: listenerPath"},
		{"seccomp notify", withLinux(specs.Linux{Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}}), "linux.seccomp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSecurity(tt.spec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// An unknown capability is left out of every set with a warning that
// names it (runtime-spec 1.2), not refused; the known ones stay, and a
// set the kernel would still refuse (effective beyond permitted) still
// fails. Not parallel: it replaces Warn.
func TestNewSecurityUnknownCapability(t *testing.T) {
	was := Warn
	var warned []string
	Warn = func(err error) { warned = append(warned, err.Error()) }
	t.Cleanup(func() { Warn = was })
	tests := []struct {
		name   string
		caps   specs.LinuxCapabilities
		want   rootfs.CapSets
		warned []string // substrings, one warning each
		err    string
	}{
		{
			name: "runtime-tools' CAP_TEST in every set",
			caps: specs.LinuxCapabilities{
				Bounding: []string{"CAP_KILL", "CAP_TEST"}, Effective: []string{"CAP_TEST", "CAP_KILL"},
				Permitted: []string{"CAP_KILL", "CAP_TEST"}, Inheritable: []string{"CAP_TEST"}, Ambient: []string{"CAP_TEST"},
			},
			want:   rootfs.CapSets{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}},
			warned: []string{`"CAP_TEST" (in bounding, effective, permitted, inheritable, ambient)`},
		},
		{
			name:   "two unknown names, one warning each",
			caps:   specs.LinuxCapabilities{Bounding: []string{"CAP_TIME_TRAVEL", "CAP_CHOWN", "CAP_TELEPORT"}},
			want:   rootfs.CapSets{Bounding: []string{"CAP_CHOWN"}},
			warned: []string{`"CAP_TIME_TRAVEL" (in bounding)`, `"CAP_TELEPORT" (in bounding)`},
		},
		{
			name: "known names only: no warning",
			caps: specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_CHOWN"}},
			want: rootfs.CapSets{Bounding: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_CHOWN"}},
		},
		{
			name:   "still refused: effective not permitted",
			caps:   specs.LinuxCapabilities{Effective: []string{"CAP_KILL", "CAP_TEST"}, Permitted: []string{"CAP_TEST"}},
			warned: []string{`"CAP_TEST" (in effective, permitted)`},
			err:    "process.capabilities: effective CAP_KILL not in the permitted set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warned = nil
			c := tt.caps
			s, err := NewSecurity(&specs.Spec{Process: &specs.Process{Capabilities: &c}})
			require.Len(t, warned, len(tt.warned), "%q", warned)
			for i, w := range tt.warned {
				assert.Contains(t, warned[i], "process.capabilities: ignoring unknown or unavailable capability")
				assert.Contains(t, warned[i], w)
			}
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, &tt.want, s.Caps)
		})
	}
}

// applyEnv asks the test binary, re-executed, to run
// TestSecurityApplyHelper: Apply must not run in the test process,
// which could never get its privileges back.
const applyEnv = "BERTH_OCIRUNTIME_TEST_APPLY"

// applyReport is what the helper saw, as JSON on its stdout.
type applyReport struct {
	Before     map[string]string `json:"before"` // /proc/thread-self/status in beforeExec
	After      map[string]string `json:"after"`  // ... after Apply
	Umask      int               `json:"umask"`
	MkdirErrno int               `json:"mkdirErrno"` // 0: mkdir worked
	Pdeathsig  int               `json:"pdeathsig"`
	Err        string            `json:"err,omitempty"`
}

// TestSecurityApplyHelper is the re-executed side. It applies the
// Security in its environment, then reports.
func TestSecurityApplyHelper(t *testing.T) {
	v := os.Getenv(applyEnv)
	if v == "" {
		t.Skip("run by TestSecurityApply in a child process")
	}
	var req struct {
		Security Security `json:"security"`
		Dir      string   `json:"dir"`
		Exec     bool     `json:"exec"` // become cat /proc/self/status, as the command would
	}
	var rep applyReport
	report := func() {
		b, _ := json.Marshal(rep)
		os.Stdout.Write(b)
		os.Exit(0)
	}
	if err := json.Unmarshal([]byte(v), &req); err != nil {
		rep.Err = err.Error()
		report()
	}
	// A parent-death signal asked for before Apply survives the uid
	// switch (the thread is the one Apply locks to).
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGUSR2), 0, 0, 0); err != nil {
		rep.Err = err.Error()
		report()
	}
	err := req.Security.Apply(func() error {
		rep.Before = threadStatus()
		return nil
	})
	if err != nil {
		rep.Err = err.Error()
		report()
	}
	if req.Exec {
		err := syscall.Exec("/bin/cat", []string{"cat", "/proc/self/status"}, nil)
		rep.Err = err.Error()
		report()
	}
	rep.After = threadStatus()
	var pdeath int32
	if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&pdeath)), 0, 0, 0); err != nil {
		rep.Err = err.Error()
		report()
	}
	rep.Pdeathsig = int(pdeath)
	rep.Umask = unix.Umask(0)
	if err := unix.Mkdir(filepath.Join(req.Dir, "made"), 0o777); err != nil {
		rep.MkdirErrno = int(err.(unix.Errno))
	}
	report()
}

// threadStatus reads the fields of /proc/thread-self/status: the
// calling thread's, which is the one Apply changed for sure (the test
// binary links cgo, so other threads may differ).
func threadStatus() map[string]string {
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	return statusFields(string(b))
}

// statusFields reads the "Key:\tvalue" lines of a status file, with the
// value's blanks made single spaces.
func statusFields(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// capHex is a set as /proc/PID/status prints it.
func capHex(names ...string) string {
	var m uint64
	for _, n := range names {
		c, err := rootfs.ParseCapability(n)
		if err != nil {
			panic(err)
		}
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

// TestSecurityApply applies config.json's security in a child and reads
// back what the kernel says: the five sets, the ids, no_new_privs, the
// seccomp mode, the errno of a refused syscall, the umask; and, through
// beforeExec, that the user switch and the sets come before it and a
// filter under no_new_privs after it (runc's order).
func TestSecurityApply(t *testing.T) {
	labtest.Privileged(t)
	umask := uint32(0o027)
	bind := "CAP_NET_BIND_SERVICE"
	tests := []struct {
		name   string
		spec   specs.Spec
		before map[string]string
		after  map[string]string
		umask  int
		errno  unix.Errno
		exec   map[string]string // what the command sees after execve
	}{
		{
			name: "non-root user with ambient capabilities, no_new_privs, seccomp late",
			spec: specs.Spec{
				Process: &specs.Process{
					User: specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20}, Umask: &umask},
					Capabilities: &specs.LinuxCapabilities{
						Bounding:    []string{"CAP_KILL", bind, "CAP_CHOWN"},
						Effective:   []string{bind},
						Permitted:   []string{bind, "CAP_KILL"},
						Inheritable: []string{bind},
						Ambient:     []string{bind},
					},
					NoNewPrivileges: true,
				},
				Linux: &specs.Linux{Seccomp: denyMkdir(unix.ENOTSUP)},
			},
			before: map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1001 1001 1001 1001", "Groups": "10 20",
				"CapEff": capHex(bind), "NoNewPrivs": "1", "Seccomp": "0"},
			after: map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1001 1001 1001 1001", "Groups": "10 20",
				"CapBnd": capHex("CAP_KILL", bind, "CAP_CHOWN"), "CapEff": capHex(bind), "CapPrm": capHex(bind, "CAP_KILL"),
				"CapInh": capHex(bind), "CapAmb": capHex(bind), "NoNewPrivs": "1", "Seccomp": "2"},
			umask: 0o027,
			errno: unix.ENOTSUP,
			// A non-root command keeps its ambient set: permitted
			// and effective after execve.
			exec: map[string]string{"Uid": "1000 1000 1000 1000", "CapBnd": capHex("CAP_KILL", bind, "CAP_CHOWN"),
				"CapEff": capHex(bind), "CapPrm": capHex(bind), "CapInh": capHex(bind), "CapAmb": capHex(bind),
				"NoNewPrivs": "1", "Seccomp": "2"},
		},
		{
			name: "root without process.capabilities keeps none; seccomp early",
			spec: specs.Spec{
				Process: &specs.Process{},
				Linux:   &specs.Linux{Seccomp: denyMkdir(unix.EACCES)},
			},
			before: map[string]string{"Uid": "0 0 0 0", "CapEff": capHex(), "NoNewPrivs": "0", "Seccomp": "2"},
			after: map[string]string{"Uid": "0 0 0 0", "Gid": "0 0 0 0", "Groups": "",
				"CapBnd": capHex(), "CapEff": capHex(), "CapPrm": capHex(), "CapInh": capHex(), "CapAmb": capHex(),
				"NoNewPrivs": "0", "Seccomp": "2"},
			umask: 0o022,
			errno: unix.EACCES,
			// Root's command gets its bounding set: here none.
			exec: map[string]string{"Uid": "0 0 0 0", "CapBnd": capHex(), "CapEff": capHex(), "CapPrm": capHex(), "Seccomp": "2"},
		},
		{
			// What dockerd writes into config.json: its default profile,
			// resolved for the default capabilities. Loaded early (no
			// no_new_privs), it must allow all that Apply does after it.
			name: "Docker's profile early, then a non-root user",
			spec: specs.Spec{
				Process: &specs.Process{
					User: specs.User{UID: 1000, GID: 1000},
					Capabilities: &specs.LinuxCapabilities{
						Bounding: rootfs.DefaultCapabilities, Effective: rootfs.DefaultCapabilities, Permitted: rootfs.DefaultCapabilities,
					},
				},
				Linux: &specs.Linux{Seccomp: dockerProfile(t)},
			},
			before: map[string]string{"Uid": "1000 1000 1000 1000", "Seccomp": "2", "CapEff": "00000000a80425fb"},
			after: map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "",
				"CapBnd": "00000000a80425fb", "CapEff": "00000000a80425fb", "CapPrm": "00000000a80425fb",
				"CapInh": capHex(), "CapAmb": capHex(), "NoNewPrivs": "0", "Seccomp": "2"},
			umask: 0o022,
			// A non-root command without ambient capabilities has none.
			exec: map[string]string{"Uid": "1000 1000 1000 1000", "CapBnd": "00000000a80425fb", "CapEff": capHex(), "CapPrm": capHex(),
				"Seccomp": "2"},
		},
		{
			// runc spec's own default: three ambient capabilities and
			// no inheritable set. The kernel would refuse to raise
			// them; runc leaves them out without a word, and so does
			// Apply.
			name: "runc spec's capabilities: ambient without inheritable left out",
			spec: specs.Spec{
				Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
					Bounding: []string{"CAP_KILL", bind}, Effective: []string{"CAP_KILL", bind},
					Permitted: []string{"CAP_KILL", bind}, Ambient: []string{"CAP_KILL", bind},
				}},
			},
			after: map[string]string{"Uid": "0 0 0 0", "CapBnd": capHex("CAP_KILL", bind), "CapEff": capHex("CAP_KILL", bind),
				"CapPrm": capHex("CAP_KILL", bind), "CapInh": capHex(), "CapAmb": capHex(), "Seccomp": "0"},
			umask: 0o022,
			exec:  map[string]string{"CapEff": capHex("CAP_KILL", bind), "CapAmb": capHex()},
		},
		{
			name: "root with Docker's capabilities, no filter",
			spec: specs.Spec{
				Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
					Bounding: rootfs.DefaultCapabilities, Effective: rootfs.DefaultCapabilities, Permitted: rootfs.DefaultCapabilities,
				}},
			},
			after: map[string]string{"Uid": "0 0 0 0", "Groups": "",
				"CapBnd": "00000000a80425fb", "CapEff": "00000000a80425fb", "CapPrm": "00000000a80425fb",
				"CapInh": capHex(), "CapAmb": capHex(), "NoNewPrivs": "0", "Seccomp": "0"},
			umask: 0o022,
			exec: map[string]string{"CapBnd": "00000000a80425fb", "CapEff": "00000000a80425fb", "CapPrm": "00000000a80425fb",
				"CapAmb": capHex(), "Seccomp": "0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSecurity(&tt.spec)
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, os.Chmod(dir, 0o777)) // the user may make a directory when no filter stops it
			child := func(execCat bool) []byte {
				req, err := json.Marshal(map[string]any{"security": s, "dir": dir, "exec": execCat})
				require.NoError(t, err)
				cmd := exec.Command(os.Args[0], "-test.run=^TestSecurityApplyHelper$", "-test.count=1")
				cmd.Env = append(os.Environ(), applyEnv+"="+string(req))
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				require.NoError(t, err, "%s", out)
				return out
			}
			status := statusFields(string(child(true)))
			for k, want := range tt.exec {
				assert.Equal(t, want, status[k], "after execve: %s", k)
			}
			out := child(false)
			var rep applyReport
			require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
			require.Empty(t, rep.Err)
			for k, want := range tt.before {
				assert.Equal(t, want, rep.Before[k], "in beforeExec: %s", k)
			}
			for k, want := range tt.after {
				assert.Equal(t, want, rep.After[k], "after Apply: %s", k)
			}
			assert.Equal(t, fmt.Sprintf("%04o", tt.umask), fmt.Sprintf("%04o", rep.Umask))
			assert.Equal(t, int(tt.errno), rep.MkdirErrno, "mkdir's errno: %v", unix.Errno(rep.MkdirErrno))
			assert.Equal(t, int(unix.SIGUSR2), rep.Pdeathsig, "the parent-death signal")
		})
	}
}

func TestHomeEnv(t *testing.T) {
	t.Parallel()
	passwd := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nbad line\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644))
	tests := []struct {
		name string
		env  []string
		uid  uint32
		file string
		want []string
	}{
		{"root", []string{"PATH=/bin"}, 0, passwd, []string{"PATH=/bin", "HOME=/root"}},
		{"a user", []string{"PATH=/bin", "TERM=xterm"}, 1000, passwd, []string{"PATH=/bin", "TERM=xterm", "HOME=/home/app"}},
		{"HOME given is kept", []string{"HOME=/data", "PATH=/bin"}, 1000, passwd, []string{"HOME=/data", "PATH=/bin"}},
		{"an empty HOME is replaced", []string{"HOME=", "PATH=/bin"}, 0, passwd, []string{"PATH=/bin", "HOME=/root"}},
		{"no entry", nil, 4242, passwd, []string{"HOME=/"}},
		{"no passwd file", []string{"A=b"}, 0, filepath.Join(t.TempDir(), "none"), []string{"A=b", "HOME=/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, HomeEnv(tt.env, tt.uid, tt.file))
		})
	}
}

// dockerProfile is Docker's default seccomp profile as dockerd resolves
// it for its default capabilities and writes it into config.json.
func dockerProfile(t *testing.T) *specs.LinuxSeccomp {
	p, err := mobyseccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: rootfs.DefaultCapabilities}}})
	require.NoError(t, err)
	return p
}
