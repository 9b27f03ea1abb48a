package seccomp

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The program's shape, for Docker's profile on x86_64:
//
//	ld  arch
//	jeq AUDIT_ARCH_X86_64 -> x86_64/x32      (the same arch value)
//	jeq AUDIT_ARCH_I386   -> i386
//	ret KILL_PROCESS                         any other ABI
//	x86_64/x32:
//	ld  nr
//	jge 0x40000000        -> x32 tree        __X32_SYSCALL_BIT
//	x86_64 tree:          a binary search over ranges of numbers
//	jge 200 -> R          (one jump over the left half, or a jump
//	  jge 100 -> ...       over a ja where the half is too long)
//	  ...   ret ALLOW     (a range of allowed syscalls: 0-8, say)
//	R: ...  ret ERRNO|EPERM   (keyctl, add_key: not in the profile)
//	        ja  clone's rules
//	        ret ERRNO|ENOSYS  (above every syscall the profile knows)
//	clone's rules:        one block per syscall with argument checks
//	ld  args[0] high; and 0;          jeq 0, else next rule
//	ld  args[0] low;  and 0x7e020000; jeq 0 -> ret ALLOW, else next rule
//	...
//
// A search over ranges, rather than one jeq per syscall, keeps both the
// program and the path short: Docker's 306 allowed x86_64 syscalls fall
// into some 65 ranges, so a syscall passes about 7 tests.

// label is a place in the program, known before its address is.
// Label 0 is "the next instruction".
type label int

// insn is an instruction whose jump targets may still be labels.
type insn struct {
	f      unix.SockFilter
	jt, jf label // conditional jumps
	ja     label // unconditional jump
}

// asm assembles a program with labels. Conditional jumps in classic BPF
// reach at most 255 instructions ahead (8-bit offsets); only the
// unconditional ja has a 32-bit offset. So every far branch is a short
// conditional jump over a ja, and only the argument checks, which are
// a few instructions long, jump conditionally to labels.
type asm struct {
	ins []insn
	at  []int // label-1 -> address; -1 until marked
}

func (a *asm) newLabel() label {
	a.at = append(a.at, -1)
	return label(len(a.at))
}

func (a *asm) mark(l label) { a.at[l-1] = len(a.ins) }

func (a *asm) emit(code uint16, k uint32) {
	a.ins = append(a.ins, insn{f: unix.SockFilter{Code: code, K: k}})
}

// load loads the 32-bit word at off of struct seccomp_data.
func (a *asm) load(off uint32) { a.emit(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off) }

func (a *asm) ret(k uint32) { a.emit(unix.BPF_RET|unix.BPF_K, k) }

// jump is "if A op k goto jt else goto jf" (op: BPF_JEQ, BPF_JGT, BPF_JGE).
func (a *asm) jump(op uint16, k uint32, jt, jf label) {
	a.ins = append(a.ins, insn{f: unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k}, jt: jt, jf: jf})
}

// ja is "goto l", however far.
func (a *asm) ja(l label) {
	a.ins = append(a.ins, insn{f: unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA}, ja: l})
}

// skip is "if not A op k, skip the next instruction".
func (a *asm) skip(op uint16, k uint32) {
	a.ins = append(a.ins, insn{f: unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k, Jt: 0, Jf: 1}})
}

// farIf is "if A op k goto l", however far: a conditional jump over a ja.
func (a *asm) farIf(op uint16, k uint32, l label) {
	a.skip(op, k)
	a.ja(l)
}

// assemble resolves the labels.
func (a *asm) assemble() (Program, error) {
	if len(a.ins) > maxInsns {
		return nil, fmt.Errorf("seccomp: the filter has %d instructions, more than the kernel's %d", len(a.ins), maxInsns)
	}
	target := func(pc int, l label) (int, error) {
		if l == 0 {
			return 0, nil
		}
		to := a.at[l-1]
		if to <= pc {
			return 0, fmt.Errorf("seccomp: internal error: label %d at %d, jump from %d", l, to, pc)
		}
		return to - pc - 1, nil
	}
	out := make(Program, len(a.ins))
	for pc, in := range a.ins {
		f := in.f
		switch {
		case in.ja != 0:
			off, err := target(pc, in.ja)
			if err != nil {
				return nil, err
			}
			f.K = uint32(off)
		case in.jt != 0 || in.jf != 0:
			jt, err := target(pc, in.jt)
			if err != nil {
				return nil, err
			}
			jf, err := target(pc, in.jf)
			if err != nil {
				return nil, err
			}
			if jt > 255 || jf > 255 {
				return nil, fmt.Errorf("seccomp: internal error: conditional jump of %d/%d at %d", jt, jf, pc)
			}
			f.Jt, f.Jf = uint8(jt), uint8(jf)
		}
		out[pc] = f
	}
	return out, nil
}

// span is a range of syscall numbers, from start to the next span's
// start, that all end the same way: return ret, or (block != 0) go check
// a syscall's arguments.
type span struct {
	start uint32
	ret   uint32
	block label
}

// generate writes the program for the ABIs (native first).
func generate(abis []abi, rules []rule, def uint32) (Program, error) {
	a := &asm{ins: make([]insn, 0, 1024)}
	var blocks []func()
	a.load(offArch)
	audits := []uint32{}
	for _, x := range abis {
		if !slices.Contains(audits, x.audit) {
			audits = append(audits, x.audit)
		}
	}
	labels := make([]label, len(audits))
	for i, au := range audits {
		labels[i] = a.newLabel()
		a.farIf(unix.BPF_JEQ, au, labels[i])
	}
	// An ABI the profile does not cover: libseccomp's "bad arch"
	// action. The whole process dies, not just the thread, as the
	// kernel's documentation advises.
	a.ret(retKillProcess)
	for i, au := range audits {
		a.mark(labels[i])
		a.load(offNr)
		var native, x32 *abi
		for j := range abis {
			if abis[j].audit == au {
				if abis[j].offset == 0 {
					native = &abis[j]
				} else {
					x32 = &abis[j]
				}
			}
		}
		if au == unix.AUDIT_ARCH_X86_64 {
			// x32's syscalls carry the bit; without x32 in the
			// profile they are an ABI it does not cover.
			if x32 != nil {
				l := a.newLabel()
				a.farIf(unix.BPF_JGE, x32Bit, l)
				blocks = append(blocks, a.tree(*native, rules, def)...)
				a.mark(l)
				blocks = append(blocks, a.tree(*x32, rules, def)...)
			} else {
				a.skip(unix.BPF_JGE, x32Bit) // if below, skip the ret
				a.ret(retKillProcess)
				blocks = append(blocks, a.tree(*native, rules, def)...)
			}
			continue
		}
		blocks = append(blocks, a.tree(*native, rules, def)...)
	}
	for _, b := range blocks {
		b()
	}
	return a.assemble()
}

// tree emits the binary search over x's syscall numbers, and returns
// the argument-checking blocks to emit later.
func (a *asm) tree(x abi, rules []rule, def uint32) []func() {
	entries := x.entries(rules)
	var spans []span
	var blocks []func()
	add := func(s span) {
		if n := len(spans); n > 0 && s.block == 0 && spans[n-1].block == 0 && spans[n-1].ret == s.ret {
			return // the same outcome as the span before: one range
		}
		spans = append(spans, s)
	}
	next := x.offset
	for _, e := range entries {
		if e.nr > next {
			add(span{start: next, ret: def})
		}
		if e.fixed || len(e.rules) == 0 {
			add(span{start: e.nr, ret: e.ret})
		} else {
			l := a.newLabel()
			add(span{start: e.nr, block: l})
			blocks = append(blocks, func() { a.block(l, e, x.args32, def) })
		}
		next = e.nr + 1
	}
	// Above the highest syscall the profile names are syscalls newer
	// than the profile. runc answers ENOSYS there, not the default
	// EPERM: a C library that tries a new syscall (clone3, openat2)
	// falls back to the old one on ENOSYS, but gives up on EPERM.
	// (runc adds this only for the ABIs a profile lists, and not when
	// the default is already ENOSYS; here every filtered ABI has it.)
	tail := def
	if def != retAllow && def != retLog {
		tail = retErrno | uint32(unix.ENOSYS)
	}
	add(span{start: next, ret: tail})
	a.search(spans)
	return blocks
}

// search emits a binary search over spans, which cover every number
// from spans[0].start on. A node is one conditional jump over its left
// half to its right half, or, where the left half is longer than a
// conditional jump reaches, a jump over a ja.
func (a *asm) search(spans []span) {
	if len(spans) == 1 {
		if s := spans[0]; s.block != 0 {
			a.ja(s.block)
		} else {
			a.ret(s.ret)
		}
		return
	}
	mid := len(spans) / 2
	right := a.newLabel()
	if searchSize(spans[:mid]) <= 255 {
		a.jump(jge, spans[mid].start, right, 0)
	} else {
		a.farIf(jge, spans[mid].start, right)
	}
	a.search(spans[:mid])
	a.mark(right)
	a.search(spans[mid:])
}

// searchSize is the number of instructions search emits for spans.
func searchSize(spans []span) int {
	if len(spans) == 1 {
		return 1
	}
	mid := len(spans) / 2
	left := searchSize(spans[:mid])
	node := 1
	if left > 255 {
		node = 2
	}
	return node + left + searchSize(spans[mid:])
}

// block emits the argument checks of one syscall: its rules in order,
// the first whose conditions all hold decides; if none does, def.
func (a *asm) block(l label, e entry, args32 bool, def uint32) {
	a.mark(l)
	for i := 0; i < len(e.rules); {
		if n := equalSet(e.rules[i:]); n > 1 {
			a.set(e.rules[i:i+n], args32)
			i += n
			continue
		}
		r := e.rules[i]
		fail := a.newLabel()
		for _, c := range r.conds {
			a.cond(c.Index, c.Op, c.Value, c.ValueTwo, args32, fail)
		}
		a.ret(r.ret)
		a.mark(fail)
		i++
	}
	a.ret(def)
}

// equalSet counts the rules at the start of rules that test the same
// argument for equality with values of the same high word, and return
// the same: Docker's socket rules, one per address family. Together they
// are a test of membership in a set: one load, then one jeq per value.
func equalSet(rules []rule) int {
	is := func(r rule) bool { return len(r.conds) == 1 && r.conds[0].Op == specs.OpEqualTo }
	if !is(rules[0]) {
		return 0
	}
	first := rules[0].conds[0]
	n := 1
	// At most 200, so that every jeq reaches the ret at the end.
	for n < len(rules) && n < 200 && is(rules[n]) && rules[n].ret == rules[0].ret &&
		rules[n].conds[0].Index == first.Index && rules[n].conds[0].Value>>32 == first.Value>>32 {
		n++
	}
	return n
}

// set emits a set of equalSet's rules: if the argument is one of their
// values, return what they return; else go on after them.
func (a *asm) set(rules []rule, args32 bool) {
	c := rules[0].conds[0]
	lo := offArgs + 8*uint32(c.Index)
	vhi := uint32(c.Value >> 32)
	if args32 && vhi != 0 {
		return // a 32-bit argument is none of these values
	}
	fail, match := a.newLabel(), a.newLabel()
	if !args32 {
		a.load(lo + 4)
		a.jump(jeq, vhi, 0, fail)
	}
	a.load(lo)
	for i, r := range rules {
		if i == len(rules)-1 {
			a.jump(jeq, uint32(r.conds[0].Value), 0, fail)
		} else {
			a.jump(jeq, uint32(r.conds[0].Value), match, 0)
		}
	}
	a.mark(match)
	a.ret(rules[0].ret)
	a.mark(fail)
}

// Comparison operators, as BPF tests them: only "==", ">" and ">=" exist,
// each with a true and a false branch.
const (
	jeq = unix.BPF_JEQ
	jgt = unix.BPF_JGT
	jge = unix.BPF_JGE
)

// cond emits one argument condition; if it does not hold, the program
// goes to fail, if it does, on to the next instruction.
//
// Arguments are 64 bits wide and classic BPF compares 32-bit words, so
// a comparison is made of the high word's and the low word's, as
// libseccomp makes it. An ABI with 32-bit arguments (i386) has only the
// low word; its high word is taken as 0 and decided here.
func (a *asm) cond(index uint, op specs.LinuxSeccompOperator, value, value2 uint64, args32 bool, fail label) {
	lo := offArgs + 8*uint32(index)
	hi := lo + 4
	vlo, vhi := uint32(value), uint32(value>>32)
	pass := a.newLabel()
	defer a.mark(pass)
	if args32 {
		// The high word is 0: compare it with vhi now.
		switch op {
		case specs.OpEqualTo, specs.OpGreaterThan, specs.OpGreaterEqual:
			if vhi != 0 {
				a.ja(fail) // 0 == vhi, 0 > vhi and 0 >= vhi are false
				return
			}
		case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual:
			if vhi != 0 {
				return // true whatever the low word
			}
		case specs.OpMaskedEqual:
			if uint32(value2>>32) != 0 {
				a.ja(fail) // 0 & mask is never the datum's high word
				return
			}
		}
	}
	word := func(off uint32) { a.load(off) }
	switch op {
	case specs.OpEqualTo:
		if !args32 {
			word(hi)
			a.jump(jeq, vhi, 0, fail)
		}
		word(lo)
		a.jump(jeq, vlo, 0, fail)
	case specs.OpNotEqual:
		if !args32 {
			word(hi)
			a.jump(jeq, vhi, 0, pass)
		}
		word(lo)
		a.jump(jeq, vlo, fail, 0)
	case specs.OpMaskedEqual:
		// value is the mask, value2 what the masked argument must be.
		dlo, dhi := uint32(value2), uint32(value2>>32)
		if !args32 {
			word(hi)
			a.emit(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, vhi)
			a.jump(jeq, dhi, 0, fail)
		}
		word(lo)
		a.emit(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, vlo)
		a.jump(jeq, dlo, 0, fail)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		// hi > vhi: true; hi < vhi: false; equal: the low words decide.
		if !args32 {
			word(hi)
			a.jump(jgt, vhi, pass, 0)
			a.jump(jeq, vhi, 0, fail)
		}
		word(lo)
		if op == specs.OpGreaterThan {
			a.jump(jgt, vlo, 0, fail)
		} else {
			a.jump(jge, vlo, 0, fail)
		}
	case specs.OpLessThan, specs.OpLessEqual:
		// The opposites of >= and >.
		if !args32 {
			word(hi)
			a.jump(jgt, vhi, fail, 0)
			a.jump(jeq, vhi, 0, pass)
		}
		word(lo)
		if op == specs.OpLessThan {
			a.jump(jge, vlo, fail, 0)
		} else {
			a.jump(jgt, vlo, fail, 0)
		}
	}
}
