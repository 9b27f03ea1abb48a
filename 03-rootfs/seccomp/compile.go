package seccomp

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Filter is a profile compiled for one container: a classic BPF program
// the kernel runs at every syscall. It is made on the host and travels to
// the container's init in its JSON spec; the init only loads it (Load).
type Filter struct {
	// Unconfined: no program, the container runs without a filter.
	Unconfined bool `json:"unconfined,omitempty"`
	// Caps are the capabilities the program was compiled for, sorted:
	// the init checks that the command keeps exactly these, so that a
	// filter made for other capabilities cannot slip through.
	Caps []string `json:"caps,omitempty"`
	// Flags are SECCOMP_FILTER_FLAG_* from the profile's "flags".
	Flags uint `json:"flags,omitempty"`
	// Program is the BPF program.
	Program Program `json:"program,omitempty"`
}

// Program is a classic BPF program. In JSON it is the kernel's own
// encoding (8 bytes an instruction, little-endian), in base64: about 4
// KB for Docker's profile, where a list of objects would take 30.
type Program []unix.SockFilter

// MarshalJSON encodes p as base64 of its raw instructions.
func (p Program) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 0, 8*len(p))
	for _, in := range p {
		raw = binary.LittleEndian.AppendUint16(raw, in.Code)
		raw = append(raw, in.Jt, in.Jf)
		raw = binary.LittleEndian.AppendUint32(raw, in.K)
	}
	return json.Marshal(raw)
}

// UnmarshalJSON decodes MarshalJSON's encoding. The container's init
// does it at each start: base64 without escapes, as encoding/json
// writes it, is decoded directly, without a second pass of the JSON
// decoder over 8 KB.
func (p *Program) UnmarshalJSON(data []byte) error {
	var raw []byte
	if n := len(data); n >= 2 && data[0] == '"' && data[n-1] == '"' && bytes.IndexByte(data, '\\') < 0 {
		raw = make([]byte, base64.StdEncoding.DecodedLen(n-2))
		m, err := base64.StdEncoding.Decode(raw, data[1:n-1])
		if err != nil {
			return fmt.Errorf("seccomp program: %w", err)
		}
		raw = raw[:m]
	} else if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("seccomp program: %w", err)
	}
	if len(raw)%8 != 0 {
		return fmt.Errorf("seccomp program: %d bytes, not a whole number of instructions", len(raw))
	}
	out := make(Program, len(raw)/8)
	for i := range out {
		b := raw[8*i:]
		out[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	*p = out
	return nil
}

// What the kernel gives a filter to look at: struct seccomp_data.
const (
	offNr   = 0  // int nr: the syscall number
	offArch = 4  // __u32 arch: AUDIT_ARCH_*
	offArgs = 16 // __u64 args[6]; on x86 the low half comes first
)

// x32Bit marks a syscall of the x32 ABI (__X32_SYSCALL_BIT): x32 and
// x86_64 share AUDIT_ARCH_X86_64 and differ only by this bit.
const x32Bit = 0x40000000

// maxInsns is the kernel's limit on a program (BPF_MAXINSNS).
const maxInsns = 4096

// abi is one syscall ABI a filter handles.
type abi struct {
	name   specs.Arch        // as profiles name it
	audit  uint32            // AUDIT_ARCH_* the kernel reports
	table  map[string]uint32 // syscall numbers
	offset uint32            // added to every number (x32's bit)
	args32 bool              // arguments are 32 bits wide
}

// abis are the ABIs of the host's architecture, native first. On an
// x86_64 kernel a process may also call through the i386 ABI (int 0x80)
// and, where the kernel enables it, x32: a filter that checked only
// x86_64's numbers would let `int 0x80` through with i386's numbering,
// where 250 is not keyctl. So the program first branches on the ABI.
func abis(goarch string) ([]abi, error) {
	switch goarch {
	case "amd64":
		return []abi{
			{name: specs.ArchX86_64, audit: unix.AUDIT_ARCH_X86_64, table: syscallsX86_64},
			{name: specs.ArchX86, audit: unix.AUDIT_ARCH_I386, table: syscallsI386, args32: true},
			{name: specs.ArchX32, audit: unix.AUDIT_ARCH_X86_64, table: syscallsX32, offset: x32Bit},
		}, nil
	}
	return nil, fmt.Errorf("seccomp: no syscall table for %s: berth compiles filters for amd64 only", goarch)
}

// compile turns the profile into a Filter for a container that keeps
// caps (names such as "CAP_SYS_ADMIN").
func compile(p Profile, caps []string, goarch string) (*Filter, error) {
	caps = slices.Sorted(slices.Values(caps))
	if p.Unconfined {
		return &Filter{Unconfined: true}, nil
	}
	s, err := p.rules(caps)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return &Filter{Unconfined: true}, nil
	}
	f, err := compileRules(s, goarch)
	if err != nil {
		return nil, err
	}
	f.Caps = caps
	return f, nil
}

// compileRules compiles a profile whose conditions are resolved: a plain
// list of rules, as an OCI runtime's config.json gives it.
func compileRules(s *specs.LinuxSeccomp, goarch string) (*Filter, error) {
	flags, def, rules, err := parse(s)
	if err != nil {
		return nil, err
	}
	all, err := abis(goarch)
	if err != nil {
		return nil, err
	}
	// The native ABI is always filtered (libseccomp's filters always
	// include it); the others only if the profile names them.
	enabled := []abi{all[0]}
	for _, a := range all[1:] {
		if slices.Contains(s.Architectures, a.name) {
			enabled = append(enabled, a)
		}
	}
	prog, err := generate(enabled, rules, def)
	if err != nil {
		return nil, err
	}
	return &Filter{Flags: flags, Program: prog}, nil
}

// parse reads the resolved profile: its flags, its default action's
// return value, and its rules.
func parse(s *specs.LinuxSeccomp) (flags uint, def uint32, rules []rule, err error) {
	if flags, err = filterFlags(s.Flags); err != nil {
		return 0, 0, nil, err
	}
	if def, err = action(s.DefaultAction, s.DefaultErrnoRet); err != nil {
		return 0, 0, nil, fmt.Errorf("seccomp profile: defaultAction: %w", err)
	}
	if rules, err = flatten(s.Syscalls); err != nil {
		return 0, 0, nil, err
	}
	return flags, def, rules, nil
}

// check reports what would make the profile fail to compile, whatever
// the capabilities.
func (p Profile) check() error {
	s, err := p.rules(nil)
	if err != nil || s == nil {
		return err
	}
	_, _, _, err = parse(s)
	return err
}

// Return values of a filter (SECCOMP_RET_*), with the data they carry in
// the low 16 bits.
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

// action is the return value of a profile's action.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM) // runc's default for errno and trace
	if errnoRet != nil && a != specs.ActErrno && a != specs.ActTrace {
		// Only these two carry a number to the caller; any other
		// action would drop it.
		return 0, fmt.Errorf("errnoRet %d: only %s and %s return a number", *errnoRet, specs.ActErrno, specs.ActTrace)
	}
	if errnoRet != nil {
		if *errnoRet > 0xffff {
			return 0, fmt.Errorf("errnoRet %d: more than 16 bits", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | data, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | data, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("%s: berth has no seccomp agent to notify", a)
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

// filterFlags reads the profile's flags: those that change how the
// kernel runs the filter. TSYNC is always set by Load.
func filterFlags(names []specs.LinuxSeccompFlag) (uint, error) {
	var f uint
	for _, n := range names {
		switch n {
		case specs.LinuxSeccompFlagLog:
			f |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			f |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// Load sets it always: every thread of the init
			// takes the filter.
		case specs.LinuxSeccompFlagWaitKillableRecv:
			return 0, fmt.Errorf("seccomp profile: flag %s: berth has no seccomp agent", n)
		default:
			return 0, fmt.Errorf("seccomp profile: unknown flag %q", n)
		}
	}
	return f, nil
}

// rule is one syscall's rule: its conditions, all of which must hold,
// and what the filter returns then.
type rule struct {
	name  string
	conds []specs.LinuxSeccompArg
	ret   uint32
}

// flatten makes one rule per syscall name. A rule with two conditions
// on the same argument becomes one rule per condition, as runc does:
// ANDed, personality(0) and personality(8) could never both hold, so a
// profile that lists them together means either.
func flatten(calls []specs.LinuxSyscall) ([]rule, error) {
	var out []rule
	for _, c := range calls {
		ret, err := action(c.Action, c.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp profile: syscalls %s: %w", strings.Join(c.Names, ","), err)
		}
		seen := map[uint]bool{}
		repeated := false
		for _, a := range c.Args {
			if a.Index > 5 {
				return nil, fmt.Errorf("seccomp profile: syscalls %s: argument index %d: a syscall has 6", strings.Join(c.Names, ","), a.Index)
			}
			if err := checkOperator(a.Op); err != nil {
				return nil, fmt.Errorf("seccomp profile: syscalls %s: %w", strings.Join(c.Names, ","), err)
			}
			repeated = repeated || seen[a.Index]
			seen[a.Index] = true
		}
		groups := [][]specs.LinuxSeccompArg{c.Args}
		if repeated {
			groups = groups[:0]
			for _, a := range c.Args {
				groups = append(groups, []specs.LinuxSeccompArg{a})
			}
		}
		for _, name := range c.Names {
			for _, g := range groups {
				out = append(out, rule{name: name, conds: g, ret: ret})
			}
		}
	}
	return out, nil
}

// checkOperator checks an operator's name.
func checkOperator(op specs.LinuxSeccompOperator) error {
	switch op {
	case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual:
		return nil
	}
	return fmt.Errorf("unknown operator %q", op)
}

// entry is what one syscall number does: return ret at once (fixed),
// or check the arguments against rules, first match first.
type entry struct {
	nr    uint32
	fixed bool
	ret   uint32
	rules []rule
}

// entries resolves the rules to the syscall numbers of a, in the order
// the profile lists them. A name the ABI does not have is skipped, as
// runc skips it (the default profile names syscalls of every
// architecture). An unconditional rule wins over conditional ones for
// the same syscall, as in libseccomp.
func (a abi) entries(rules []rule) []entry {
	out := make([]entry, 0, len(rules))
	byNr := make(map[uint32]int, len(rules))
	for _, r := range rules {
		n, ok := a.table[r.name]
		if !ok {
			continue
		}
		n += a.offset
		i, ok := byNr[n]
		if !ok {
			i = len(out)
			byNr[n] = i
			out = append(out, entry{nr: n})
		}
		e := &out[i]
		switch {
		case e.fixed: // an unconditional rule came first: it decides
		case len(r.conds) == 0:
			e.fixed, e.ret, e.rules = true, r.ret, nil
		default:
			e.rules = append(e.rules, r)
		}
	}
	// Sorted through an index of plain numbers: moving the entries
	// themselves, which hold slices, costs the garbage collector's write
	// barriers at every swap.
	order := make([]uint64, len(out))
	for i, e := range out {
		order[i] = uint64(e.nr)<<32 | uint64(i)
	}
	slices.Sort(order)
	sorted := make([]entry, len(out))
	for i, k := range order {
		sorted[i] = out[uint32(k)]
	}
	return sorted
}
