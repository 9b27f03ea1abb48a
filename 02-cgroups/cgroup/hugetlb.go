package cgroup

import (
	"fmt"
	"regexp"
	"strconv"
)

// Huge pages
//
// Huge pages (2 MiB or 1 GiB instead of 4 KiB; hugetlbfs, or
// mmap(MAP_HUGETLB)) come from a pool the host reserves at boot or in
// /proc/sys/vm/nr_hugepages, and are not charged to the memory
// controller. The hugetlb controller caps them, one file per page size:
//
//	v1  hugetlb.2MB.limit_in_bytes   hugetlb.1GB.limit_in_bytes
//	v2  hugetlb.2MB.max              hugetlb.1GB.max
//
// The size is spelled as the kernel names the files ("2MB", "1GB",
// "64KB"), which is also how the OCI spec gives it.

// HugetlbLimit caps the huge pages of one size, in bytes.
type HugetlbLimit struct {
	PageSize string // "2MB", "1GB"
	Limit    uint64
}

var pageSize = regexp.MustCompile(`^[1-9][0-9]*[KMG]B$`)

func (r Resources) validateHugetlb() error {
	for _, l := range r.HugetlbLimits {
		if !pageSize.MatchString(l.PageSize) {
			return fmt.Errorf("huge page size %q: want the kernel's spelling, such as 2MB or 1GB", l.PageSize)
		}
	}
	return nil
}

// setHugetlb writes each limit to hugetlb.<size>.<suffix>; a size the
// host does not have has no file, and fails.
func setHugetlb(dir string, limits []HugetlbLimit, suffix string) error {
	for _, l := range limits {
		if err := setLimit(dir, "hugetlb."+l.PageSize+"."+suffix, strconv.FormatUint(l.Limit, 10), true); err != nil {
			return fmt.Errorf("set huge page limit %s: %w", l.PageSize, err)
		}
	}
	return nil
}
