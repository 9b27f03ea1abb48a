package layer

import (
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/volume"
)

// InitSpec is what a chapter 04 container's init reads: chapter 03's
// spec, whose Rootfs.Root is the container's merged directory, plus the
// layers to mount there. Later chapters embed it in their own specs.
type InitSpec struct {
	rootfs.InitSpec
	Layer MountSpec `json:"layer"`
}

// Init is the container side of chapter 04: chapter 03's, with the
// overlay mounted before the root switch (Enter).
func Init() int { return namespace.InitWith[InitSpec]() }

// Enter is chapter 04's part of the container side, for Init and for the
// inits of later chapters: mount the image's layers and the container's
// own on the merged directory, then enter it as chapter 03 enters a root
// filesystem.
//
// The overlay is mounted here, inside the container's mount namespace
// (namespace.Setup made its mounts private), not on the host: nobody on
// the host sees it, and when the container's last process exits the
// kernel unmounts it with the namespace. Nothing is left to clean up but
// the directories.
//
// Before the overlay, in a user namespace, the idmapped mounts that the
// host made go over the layers (idmap.go).
//
// Between the two, a new volume is filled with what the image has where
// it will be mounted (volume.CopyUpAll): only now is the image's content
// in one place, the merged root, and only until chapter 03 mounts the
// volume over it.
func (s *InitSpec) Enter() error {
	if err := s.Layer.attachIdmapped(); err != nil {
		return err
	}
	if err := s.Layer.Mount(s.Rootfs.Root); err != nil {
		return err
	}
	if err := volume.CopyUpAll(s.Rootfs.Root, s.Rootfs.Volumes); err != nil {
		return err
	}
	return s.InitSpec.Enter()
}
