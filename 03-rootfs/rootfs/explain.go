package rootfs

import (
	"strings"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// remountSection is the part of the course that a read-only remount
// belongs to, for the explain trace: the root (--read-only), a volume
// (reached through its descriptor), or one of the read-only paths.
func remountSection(target string) explain.Section {
	switch {
	case target == "/":
		return explain.Rootfs
	case strings.HasPrefix(target, "/proc/self/fd/"):
		return explain.Volumes
	}
	return explain.Masked
}

// volumeSection is where the course teaches a bind mount of v: chapter
// 04 for a volume of the store, chapter 03 for a host path.
func volumeSection(v Volume) explain.Section {
	if v.Type == TypeVolume {
		return explain.NamedVols
	}
	return explain.Volumes
}
