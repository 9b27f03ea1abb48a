package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/build"
)

// recoverImages runs when the daemon starts, before it serves anything:
// it removes what a daemon killed in the middle of a load, an import, a
// commit or a build left behind. Nothing of it is visible (every image,
// layer, blob and cache entry is written to a temporary name and renamed
// into place when complete), but it takes space and holds layers:
//
//   - RUN containers of an interrupted build (builder/running): their
//     directories, cgroups and leases on their images;
//   - the builds' scratch directories (builder/tmp);
//   - the store's work in progress and the layers that no image took
//     (image.Store.Recover);
//   - cache entries whose image is gone, and half-written ones.
//
// The daemon owns its data root: no other process works in it now.
func (d *Daemon) recoverImages() error {
	var errs []error
	running, err := os.ReadDir(d.builderDir("running"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range running {
		id := e.Name()
		if cg, err := containerCgroup(d.opts.CgroupParent, id); err == nil {
			errs = append(errs, cg.Destroy())
		}
		errs = append(errs, d.removeBuildContainer(id))
	}
	errs = append(errs, os.RemoveAll(d.builderDir("tmp")))
	errs = append(errs, d.images.Recover())
	if cache, err := build.OpenCache(d.builderDir("cache")); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, cache.Prune(func(id image.Digest) bool {
			_, err := d.images.Get(id.String())
			return err == nil
		}))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning up after the last daemon: %w", err)
	}
	return nil
}
