package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sessionPrefix starts the names of sessions' markers, and so of their
// leases (see newSession).
const sessionPrefix = "session-"

// Recover cleans up after a crash, for the one program that owns the
// store: berthd calls it when it starts. A crash in the middle of a
// commit, an import or a load never leaves a visible image that refers to
// a missing layer, nor a half-written blob (see the package
// documentation), but it leaves work in progress: files and unfinished
// layers in tmp/, the leases of the sessions that protected new layers,
// and layers and blobs that no image took. Recover deletes everything in
// tmp/ (so the sessions' leases go stale with their markers), then
// collects what no image and no live lease needs.
//
// Unlike the collection that removals run, which leaves tmp/ entries
// younger than a day alone, Recover does not know whether another process
// is working in the store at this moment: call it only when none can be.
func (s *Store) Recover() error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	dir := filepath.Join(s.dir, tmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("recovering the image store: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("recovering the image store: %w", err)
		}
	}
	// The sessions' leases: their markers were in tmp/, so all of them
	// are dead. They go by name, unread: a crash while one was being
	// written (it is not written atomically) leaves a file that is not
	// JSON, which would stop every collection.
	leases, err := os.ReadDir(filepath.Join(s.dir, leasesDir))
	if err != nil {
		return fmt.Errorf("recovering the image store: %w", err)
	}
	for _, e := range leases {
		holder, _ := strings.CutSuffix(e.Name(), ".json")
		dead := strings.HasPrefix(e.Name(), sessionPrefix)
		if !dead {
			// A lease of UseEphemeral's, torn by a crash: it says
			// nothing, and its holder, if it is still there, takes
			// it again (Use).
			var syntax *json.SyntaxError
			_, err := s.Lease(holder)
			dead = errors.As(err, &syntax)
		}
		if dead {
			if err := os.Remove(filepath.Join(s.dir, leasesDir, e.Name())); err != nil {
				return fmt.Errorf("recovering the image store: %w", err)
			}
		}
	}
	if err := s.gc(); err != nil {
		return fmt.Errorf("recovering the image store: %w", err)
	}
	return nil
}
