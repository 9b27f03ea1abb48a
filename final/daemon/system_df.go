package daemon

import (
	"context"

	"github.com/moby/moby/api/types/build"
	apivolume "github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/filters"
)

// SystemDiskUsage is docker system df (GET /system/df; api.DiskUsage
// says what each part is). Sizes are counted as dockerd counts them:
//
//   - a layer is counted once in LayersSize however many images stack
//     it, with its content size (chapter 06's Layer.Content, the unit
//     of an image's Size); an image's SharedSize is the part of its Size
//     in layers that other images have too;
//   - a container's SizeRw is the content of its writable layer's upper
//     directory (chapter 06's ContentSize: files' sizes, not blocks, as
//     dockerd's walk), SizeRootFs that plus its image;
//   - a volume's Size is its directory's content, RefCount the
//     containers that mount it, running or not.
//
// Intermediate images (untagged, with children) are left out of Images,
// as docker images leaves them out, but their layers are in LayersSize.
func (d *Daemon) SystemDiskUsage(ctx context.Context) (api.DiskUsage, error) {
	du := api.DiskUsage{BuildCache: []build.CacheRecord{}}
	all, err := d.images.Images()
	if err != nil {
		return du, err
	}
	users := map[image.Digest]int{} // images per layer
	content := map[image.Digest]int64{}
	chains := map[image.Digest][]image.Digest{}
	for _, img := range all {
		layers, err := d.images.Layers(img.ID)
		if err != nil {
			continue // removed meanwhile
		}
		for _, l := range layers {
			users[l.ChainID]++
			content[l.ChainID] = l.Content
			chains[img.ID] = append(chains[img.ID], l.ChainID)
		}
	}
	for _, n := range content {
		du.LayersSize += n
	}
	if du.Images, err = d.ImageList(ctx, false); err != nil {
		return du, err
	}
	sizes := map[string]int64{}
	for i := range du.Images {
		img := &du.Images[i]
		img.SharedSize = 0
		for _, c := range chains[image.Digest(img.ID)] {
			if users[c] > 1 {
				img.SharedSize += content[c]
			}
		}
		sizes[img.ID] = img.Size
	}
	for _, img := range all { // intermediates too, for SizeRootFs
		sizes[img.ID.String()] = img.Size
	}
	if du.Containers, err = d.ContainerList(ctx, api.ListOptions{All: true, Size: true}); err != nil {
		return du, err
	}
	for i := range du.Containers {
		c := &du.Containers[i]
		if rw, err := layer.Open(d.opts.DataRoot, c.ID); err == nil {
			if n, err := image.ContentSize(rw.Upper()); err == nil {
				c.SizeRw = n
			}
		}
		c.SizeRootFs = c.SizeRw + sizes[c.ImageID]
	}
	vols, err := d.VolumeList(ctx, filters.Args{})
	if err != nil {
		return du, err
	}
	refs := d.volumeUsers()
	du.Volumes = vols.Volumes
	for i := range du.Volumes {
		v := &du.Volumes[i]
		size, err := image.ContentSize(v.Mountpoint)
		if err != nil {
			size = -1 // as dockerd: not known
		}
		v.UsageData = &apivolume.UsageData{Size: size, RefCount: int64(len(refs[v.Name]))}
	}
	return du, nil
}
