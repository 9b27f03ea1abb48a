package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// setDevicesV1 writes the whitelist into a v1 devices cgroup, dir.
//
// A new v1 devices cgroup starts as a copy of its parent's list, which
// for berth's parent is "a *:* rwm": everything. So the default comes
// first, written as "a" to devices.deny (or devices.allow), which also
// clears the copied exceptions. Then one write per exception: the kernel
// takes a single rule per write(2).
func setDevicesV1(o ops, dir string, w whitelist) error {
	if dir == "" {
		return errors.New("set device policy: the cgroup has no directory in the devices hierarchy")
	}
	def, exc := "devices.deny", "devices.allow"
	if w.allowAll {
		def, exc = exc, def
	}
	if err := o.setDevices(dir, def, []string{"a"}); err != nil {
		return fmt.Errorf("set device policy: %w", err)
	}
	if len(w.exceptions) == 0 {
		return nil
	}
	lines := make([]string, len(w.exceptions))
	for i, e := range w.exceptions {
		lines[i] = e.String()
	}
	if err := o.setDevices(dir, exc, lines); err != nil {
		return fmt.Errorf("set device policy: %w", err)
	}
	return nil
}

// Device types and the position of the fields in the context a device
// program gets (struct bpf_cgroup_dev_ctx in linux/bpf.h):
//
//	offset 0  u32 access_type   access << 16 | type
//	offset 4  u32 major
//	offset 8  u32 minor
const (
	bpfDevBlock = 1 // BPF_DEVCG_DEV_BLOCK
	bpfDevChar  = 2 // BPF_DEVCG_DEV_CHAR
)

// deviceProgram compiles the whitelist into a BPF_PROG_TYPE_CGROUP_DEVICE
// program. The kernel runs it at every open(2) and mknod(2) of a device
// node by a process of the cgroup; it returns 1 to allow, 0 to refuse
// (EPERM). It is whitelist.allows, one block per exception:
//
//	r2 = ctx->access_type
//	r3 = r2 & 0xffff             the device's type
//	r4 = r2 >> 16                the access asked for
//	r5 = ctx->major; r6 = ctx->minor
//	exception 0:  if r3 != TYPE goto 1; if r5 != MAJOR goto 1; if r6 != MINOR goto 1
//	              (deny default)  if r4 & ^ACCESS != 0 goto 1; return 1
//	              (allow default) if r4 & ACCESS == 0 goto 1; return 0
//	exception 1:  ...
//	end:          return DEFAULT
//
// A wildcard skips its comparison; an "a" exception skips the type's.
func deviceProgram(w whitelist) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, 0xffff),
		asm.Mov.Reg32(asm.R4, asm.R2),
		asm.RSh.Imm32(asm.R4, 16),
		asm.LoadMem(asm.R5, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R6, asm.R1, 8, asm.Word),
	}
	// Each block's first instruction carries the label the previous
	// block jumps to when its exception does not match.
	label := func(i int) string { return fmt.Sprintf("exception_%d", i) }
	var block asm.Instructions
	for i, e := range w.exceptions {
		next := label(i + 1)
		block = block[:0]
		switch e.Type {
		case CharDevice:
			block = append(block, asm.JNE.Imm32(asm.R3, bpfDevChar, next))
		case BlockDevice:
			block = append(block, asm.JNE.Imm32(asm.R3, bpfDevBlock, next))
		}
		// Imm32: compare as 32-bit numbers, as the kernel's u32 fields
		// are; a 64-bit compare would sign-extend the immediate.
		if e.Major != Wildcard {
			block = append(block, asm.JNE.Imm32(asm.R5, int32(uint32(e.Major)), next))
		}
		if e.Minor != Wildcard {
			block = append(block, asm.JNE.Imm32(asm.R6, int32(uint32(e.Minor)), next))
		}
		bits := int32(accessBits(e.Access))
		if w.allowAll {
			// Denied if any of the access asked for is denied here.
			block = append(block,
				asm.Mov.Reg32(asm.R7, asm.R4),
				asm.And.Imm32(asm.R7, bits),
				asm.JEq.Imm32(asm.R7, 0, next),
				asm.Mov.Imm32(asm.R0, 0),
				asm.Return())
		} else {
			// Allowed if this exception grants all of it.
			block = append(block,
				asm.Mov.Reg32(asm.R7, asm.R4),
				asm.And.Imm32(asm.R7, ^bits&accAll),
				asm.JNE.Imm32(asm.R7, 0, next),
				asm.Mov.Imm32(asm.R0, 1),
				asm.Return())
		}
		block[0] = block[0].WithSymbol(label(i))
		insns = append(insns, block...)
	}
	def := int32(0)
	if w.allowAll {
		def = 1
	}
	insns = append(insns,
		asm.Mov.Imm32(asm.R0, def).WithSymbol(label(len(w.exceptions))),
		asm.Return())
	return insns
}

// attachDeviceProgram loads the whitelist's program and attaches it to the
// v2 cgroup dir.
//
// It attaches with BPF_PROG_ATTACH, not with a bpf_link (BPF_LINK_CREATE,
// what cilium/ebpf's link.AttachCgroup prefers): a link detaches the
// program when its last file descriptor closes, so the policy would end
// with the process that set it (berthd, or a chapter's run command), while
// the container goes on. With BPF_PROG_ATTACH the cgroup itself holds the
// program until the cgroup is removed; closing our descriptors below
// changes nothing.
//
// BPF_F_ALLOW_MULTI: our program runs after those attached to the
// cgroup's ancestors (systemd puts one on services with DevicePolicy=),
// and a device is allowed only if every one of them allows it. So a
// container never gets more than its parent has.
func attachDeviceProgram(dir string, w whitelist) error {
	prog, err := loadedDeviceProgram(w) // loaded once per policy: engine tuning, tuning_devices_cache.go
	if err != nil {
		return err
	}
	f, err := os.Open(dir) // O_RDONLY|O_DIRECTORY: what BPF_PROG_ATTACH wants as target
	if err != nil {
		return fmt.Errorf("attach device program: %w", err)
	}
	defer f.Close()
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  int(f.Fd()),
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("attach device program to %s: %w", filepath.Clean(dir), err)
	}
	if t := traceOf(dir); t.On() { // --explain
		t.Stepf(explain.Devices, "bpf", "(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, %s): %d instructions, %d exceptions to allow-all=%t", filepath.Clean(dir), len(deviceProgram(w)), len(w.exceptions), w.allowAll)
	}
	return nil
}
