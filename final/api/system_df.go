package api

import (
	"net/http"
	"slices"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
)

// GET /system/df (docker system df): what images, containers, volumes
// and the build cache hold on disk. The answer has the shape of API
// 1.41, the version berthd serves, which the docker CLI turns into its
// table itself (active counts, reclaimable space):
//
//	LayersSize   every image layer once
//	Images       as docker images lists them, with SharedSize (the
//	             bytes of layers other images have too) and Containers
//	Containers   as docker ps -a --size lists them (SizeRw, SizeRootFs)
//	Volumes      with UsageData: Size and RefCount (containers using it)
//	BuildCache   berth's build cache is images (intermediate steps,
//	             counted above): an empty list, as dockerd's classic
//	             builder has
//
// ?type=container|image|volume|build-cache (API 1.42, sent by newer
// clients) leaves out the sections not asked for.

// DiskUsage is GET /system/df's answer, API 1.41's shape.
type DiskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

func (s *Server) systemDiskUsage(w http.ResponseWriter, r *http.Request) error {
	types := r.URL.Query()["type"]
	for _, t := range types {
		if !slices.Contains([]string{"container", "image", "volume", "build-cache"}, t) {
			return invalid("invalid type: " + t)
		}
	}
	du, err := s.backend.SystemDiskUsage(r.Context())
	if err != nil {
		return err
	}
	if len(types) > 0 {
		if !slices.Contains(types, "image") {
			du.LayersSize, du.Images = 0, nil
		}
		if !slices.Contains(types, "container") {
			du.Containers = nil
		}
		if !slices.Contains(types, "volume") {
			du.Volumes = nil
		}
		if !slices.Contains(types, "build-cache") {
			du.BuildCache = nil
		}
	}
	writeJSON(w, http.StatusOK, du)
	return nil
}
