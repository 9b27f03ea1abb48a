package explain

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Section is where the course teaches a step: "01 §Namespaces" is
// chapter 01, the part of its text about namespaces. The chapter texts
// list these under "Explain mode".
type Section string

// The sections of the course that the trace points to.
const (
	Namespaces Section = "01 §Namespaces" // clone, unshare, sethostname
	Mounts     Section = "01 §Mounts"     // private propagation, /proc
	Sysctls    Section = "01 §Kernel parameters"
	UserNS     Section = "01 §User namespaces"

	Cgroups Section = "02 §Cgroups" // mkdir, cgroup.procs
	Limits  Section = "02 §Limits"  // memory, cpu, pids files
	Devices Section = "02 §Devices" // the device cgroup's rules or eBPF program
	Rlimits Section = "02 §Rlimits" // setrlimit, oom_score_adj

	Rootfs  Section = "03 §Root filesystem" // bind of the root, pivot_root
	System  Section = "03 §System mounts"   // /proc, /sys, /dev, /dev/pts, /dev/shm, cgroupfs
	Masked  Section = "03 §Masked paths"    // /proc/kcore and friends, read-only /proc/sys
	Volumes Section = "03 §Bind mounts"     // -v HOST:CONTAINER, --tmpfs
	Seccomp Section = "03 §Seccomp"
	Caps    Section = "03 §Capabilities"

	Layers    Section = "04 §Overlay"   // overlay mounts
	NamedVols Section = "04 §Volumes"   // named and anonymous volumes
	Network   Section = "05 §Veth pair" // veth, addresses, routes
	Bridge    Section = "05 §Bridge"    // the bridge, attach
	NAT       Section = "05 §NAT"       // nftables
	Images    Section = "06 §The store" // the image's layers
	Logs      Section = "07 §Logs"      // the log file
	Shim      Section = "07 §Shim"      // the shim process
)

// Sections lists every section, in the course's order; a test checks
// that each chapter's text names its own.
var Sections = []Section{
	Namespaces, Mounts, Sysctls, UserNS,
	Cgroups, Limits, Devices, Rlimits,
	Rootfs, System, Masked, Volumes, Seccomp, Caps,
	Layers, NamedVols, Network, Bridge, NAT, Images, Logs, Shim,
}

// Chapter is the section's chapter number, "01".."07".
func (s Section) Chapter() string { return strings.SplitN(string(s), " ", 2)[0] }

// Trace is where the steps go. A nil *Trace is off: every method does
// nothing. Its methods may be called from several goroutines (chapter
// 05 attaches the network while init mounts): each line is written
// whole, with one Write.
type Trace struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns a Trace writing to w, or nil (off) when w is nil.
func New(w io.Writer) *Trace {
	if w == nil {
		return nil
	}
	return &Trace{w: w}
}

// On reports whether the trace is on. A caller that would do work only
// to describe a step (a stat, a join) checks it first.
func (t *Trace) On() bool { return t != nil }

// Step records one step: what kind of step (a system call's name, or
// "netlink", "nft", "overlay"...) and with what.
func (t *Trace) Step(s Section, kind, detail string) {
	if t == nil {
		return
	}
	t.line(Format(s, kind, detail))
}

// Stepf is Step with a formatted detail.
func (t *Trace) Stepf(s Section, kind, format string, args ...any) {
	if t == nil {
		return
	}
	t.line(Format(s, kind, fmt.Sprintf(format, args...)))
}

func (t *Trace) line(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = io.WriteString(t.w, l+"\n") // a trace that cannot be written must not stop a container
}

// Clone records the clone(2) that makes the container's first process
// with new namespaces.
func (t *Trace) Clone(flags uintptr) {
	if t == nil {
		return
	}
	t.Step(Namespaces, "clone", "("+CloneFlags(flags)+")")
}

// Unshare records an unshare(2): namespaces made by a process for itself.
func (t *Trace) Unshare(flags uintptr) {
	if t == nil {
		return
	}
	t.Step(Namespaces, "unshare", "("+CloneFlags(flags)+")")
}

// Mount records a mount(2) (or its newer forms: open_tree, move_mount,
// mount_setattr), with why it is made.
func (t *Trace) Mount(s Section, source, target, fstype string, flags uintptr, data, why string) {
	if t == nil {
		return
	}
	if strings.HasPrefix(target, "/proc/self/fd/") { // a mount through a descriptor: name the place
		if p, err := os.Readlink(target); err == nil {
			target = p
		}
	}
	var b strings.Builder
	b.WriteString("(")
	if source != "" {
		b.WriteString(source + " on ")
	} else {
		b.WriteString(`"" on `)
	}
	b.WriteString(target)
	if fstype != "" {
		b.WriteString(" type " + fstype)
	}
	if flags != 0 {
		b.WriteString(", " + MountFlags(flags))
	}
	if data != "" {
		b.WriteString(", " + strconv.Quote(data))
	}
	b.WriteString(")")
	if why != "" {
		b.WriteString(": " + why)
	}
	t.Step(s, "mount", b.String())
}

// Write records a value written to a kernel file: a cgroup's limit, a
// /proc/sys parameter.
func (t *Trace) Write(s Section, path, value string) {
	if t == nil {
		return
	}
	t.Step(s, "write", path+" = "+strconv.Quote(value))
}

// Format is one line of the trace, without its newline.
func Format(s Section, kind, detail string) string {
	l := "[" + string(s) + "] " + kind
	if detail == "" {
		return l
	}
	if detail[0] == '(' {
		return l + detail
	}
	return l + " " + detail
}

// A Line is one parsed line of the trace.
type Line struct {
	Section Section
	Kind    string
	Detail  string
}

// Parse reads one line written by Format. Lines of the container's own
// output, which share the terminal, do not parse.
func Parse(l string) (Line, bool) {
	l = strings.TrimRight(l, "\n")
	if !strings.HasPrefix(l, "[") {
		return Line{}, false
	}
	end := strings.Index(l, "] ")
	if end < 0 || !strings.Contains(l[:end], " §") {
		return Line{}, false
	}
	s, rest := Section(l[1:end]), l[end+2:]
	n := 0
	for n < len(rest) && (rest[n] == '_' || rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= '0' && rest[n] <= '9') {
		n++
	}
	if n == 0 {
		return Line{}, false
	}
	return Line{Section: s, Kind: rest[:n], Detail: strings.TrimPrefix(rest[n:], " ")}, true
}

// Lines parses every trace line of out, skipping the others.
func Lines(out string) []Line {
	var ls []Line
	for _, l := range strings.Split(out, "\n") {
		if p, ok := Parse(l); ok {
			ls = append(ls, p)
		}
	}
	return ls
}

// Label, set to "true" on a container, asks berthd for the trace of its
// starts (berth run --explain): berthd's shim keeps it in the
// container's directory under the data root, explain.log.
const Label = "berth.explain"

// EnvFD names, in the environment of a container's init, the descriptor
// of the pipe its steps go to.
const EnvFD = "BERTH_EXPLAIN_FD"

// Pipe makes the pipe a container's init writes its steps to: w is the
// end init inherits (close it once init is started); every line read
// from the other end is written to t. done waits until init, and
// whatever else holds w, has closed it. With t nil, Pipe makes nothing
// and returns nil, and done returns at once.
func (t *Trace) Pipe() (w *os.File, done func(), err error) {
	if t == nil {
		return nil, func() {}, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("explain pipe: %w", err)
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			t.line(sc.Text())
		}
	}()
	return w, func() { <-finished }, nil
}

// inside is the trace of a container's init: the pipe named by EnvFD.
var inside *Trace

// Inherit, in a container's init, opens the trace pipe that the host
// passed (EnvFD), if any, for Inside. It is the first thing init does,
// and it forgets the variable, so that nothing init starts sees it.
func Inherit() {
	v, ok := os.LookupEnv(EnvFD)
	if !ok {
		return
	}
	_ = os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return
	}
	if f := os.NewFile(uintptr(fd), "explain"); f != nil {
		inside = New(f)
	}
}

// CloseInside closes init's end of the trace pipe, once init's own steps
// are done: the host then knows that it has them all, even while init
// stays on as the command's PID 1 (--init).
func CloseInside() {
	if inside == nil {
		return
	}
	if f, ok := inside.w.(*os.File); ok {
		_ = f.Close()
	}
	inside = nil
}

// Inside is the trace of this process if it is a container's init
// whose host asked for one (Inherit), or nil.
func Inside() *Trace { return inside }

// FirstMissing checks that lines hold the steps want, in that order
// (other lines may come between), and returns the first that is not
// there, or "" when all are. A step is a kind ("pivot_root"), or a kind
// and a piece of its detail ("mount:/proc"). Tests use it: the kinds are
// the same in every run, the details vary.
func FirstMissing(lines []Line, want ...string) string {
	i := 0
	for _, w := range want {
		kind, part, _ := strings.Cut(w, ":")
		for i < len(lines) && (lines[i].Kind != kind || !strings.Contains(lines[i].Detail, part)) {
			i++
		}
		if i == len(lines) {
			return w
		}
		i++
	}
	return ""
}

// Share returns a writer that takes turns with the trace on its writer,
// for another writer of the same stream: a container's stderr, when it
// is the program's stderr too. Without it a bytes.Buffer, which os/exec
// fills by ReadFrom straight into its slice, would lose the lines the
// trace appends meanwhile. With t nil it is nil.
func (t *Trace) Share() io.Writer {
	if t == nil {
		return nil
	}
	return shared{t}
}

type shared struct{ t *Trace }

func (s shared) Write(p []byte) (int, error) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.t.w.Write(p)
}
