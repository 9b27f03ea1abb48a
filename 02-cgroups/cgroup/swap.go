package cgroup

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Swap
//
// A memory limit alone does not stop a container from using more
// memory than it: what does not fit can be swapped out, and the
// container carries on at disk speed. So the kernel has a second limit,
// on memory plus swap (v1) or on swap alone (v2):
//
//	docker run -m 64m --memory-swap 192m     64 MiB of memory, 128 MiB of swap
//	v1  memory.limit_in_bytes 67108864       memory.memsw.limit_in_bytes 201326592 (the sum)
//	v2  memory.max 67108864                  memory.swap.max 134217728 (swap alone)
//
// Resources.MemorySwap is the sum, as Docker's flag and the OCI spec
// count it. 0 is berth's own default, no swap (memsw = memory, v2's
// swap.max 0); Docker's default, when -m is given without
// --memory-swap, is as much swap as memory: DockerSwap. -1 lifts it.
//
// memory.memsw.* and memory.swap.max exist only when the kernel
// accounts swap (CONFIG_MEMCG_SWAP, and swapaccount=1 on older
// kernels). Without them there is no swap limit to write: a MemorySwap
// above Memory is then an error, never a silent "unlimited".

// DockerSwap is Docker's memory+swap for a memory limit and a
// --memory-swap as given (0 when not given): twice the memory when
// only -m was given, else swap as it is.
func DockerSwap(memory, swap int64) int64 {
	if memory > 0 && swap == 0 {
		return 2 * memory
	}
	return swap
}

// SwapAccounting reports whether this host can limit swap: v1's memory
// hierarchy has memory.memsw.limit_in_bytes; on v2, as dockerd decides,
// whenever the memory controller is there (memory.swap.max exists with
// CONFIG_MEMCG_SWAP, which every distribution kernel has).
func (h *Hierarchy) SwapAccounting() bool {
	if h.Version == V2 {
		avail, err := readString(h.Unified, "cgroup.controllers")
		return err == nil && slices.Contains(strings.Fields(avail), "memory")
	}
	mnt := h.Mounts["memory"]
	return mnt != "" && exists(mnt, "memory.memsw.limit_in_bytes")
}

// memsw is the value of v1's memory.memsw.limit_in_bytes for r, and
// whether it is a real limit (one that must be written): the memory
// limit itself when no swap is allowed, -1 when unlimited.
func (r Resources) memsw() (string, int64, bool) {
	switch {
	case r.MemorySwap == -1 || (r.Memory == 0 && r.MemorySwap == 0):
		return "-1", math.MaxInt64, false
	case r.MemorySwap == 0:
		return strconv.FormatInt(r.Memory, 10), r.Memory, false
	}
	return strconv.FormatInt(r.MemorySwap, 10), r.MemorySwap, r.MemorySwap > r.Memory
}

// swapMax is v2's memory.swap.max for r: swap alone, the sum less the
// memory.
func (r Resources) swapMax() (string, bool) {
	switch {
	case r.MemorySwap == -1 || r.Memory == 0:
		return "max", false
	case r.MemorySwap == 0:
		return "0", false
	}
	return strconv.FormatInt(r.MemorySwap-r.Memory, 10), r.MemorySwap > r.Memory
}

// validateSwap checks MemorySwap and Swappiness against Docker's rules,
// which are the kernel's too.
func (r Resources) validateSwap() error {
	switch {
	case r.MemorySwap < -1:
		return fmt.Errorf("memory+swap limit %d: must not be negative (-1 means unlimited swap)", r.MemorySwap)
	case r.MemorySwap > 0 && r.Memory <= 0:
		return fmt.Errorf("memory+swap limit %d: needs a memory limit too (it limits memory and swap together)", r.MemorySwap)
	case r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return fmt.Errorf("memory+swap limit %d: below the memory limit %d (it counts memory and swap together)", r.MemorySwap, r.Memory)
	}
	if r.KernelTCP < -1 {
		return fmt.Errorf("kernel TCP memory %d: -1 (unlimited) or a number of bytes", r.KernelTCP)
	}
	if r.Swappiness != nil && *r.Swappiness > 100 {
		return fmt.Errorf("swappiness %d: the kernel takes 0 to 100", *r.Swappiness)
	}
	return nil
}

// ErrNoSwappinessV2 refuses Swappiness on cgroup v2, which has no
// memory.swappiness (runc drops it there; berth does not run without
// what was asked).
var ErrNoSwappinessV2 = errors.New("memory swappiness cannot be set on cgroup v2 (v2 has no memory.swappiness)")

// setSwappinessV1 writes memory.swappiness when one is asked; nil
// leaves the parent's, which a new cgroup has.
func setSwappinessV1(dir string, v *uint64) error {
	if v == nil {
		return nil
	}
	if err := setLimit(dir, "memory.swappiness", strconv.FormatUint(*v, 10), true); err != nil {
		return fmt.Errorf("set memory swappiness: %w", err)
	}
	return nil
}

// ErrNoKernelTCPV2 refuses KernelTCP on cgroup v2, which counts TCP
// buffers in memory.max with the rest of the cgroup's memory.
var ErrNoKernelTCPV2 = errors.New("a kernel TCP memory limit cannot be set on cgroup v2 (v2 counts TCP buffers in memory.max)")

// setKernelTCPV1 writes memory.kmem.tcp.limit_in_bytes when a limit is
// asked; 0 leaves the parent's.
func setKernelTCPV1(dir string, v int64) error {
	if v == 0 {
		return nil
	}
	if err := setLimit(dir, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(v, 10), true); err != nil {
		return fmt.Errorf("set kernel TCP memory limit: %w", err)
	}
	return nil
}
