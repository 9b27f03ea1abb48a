package build

import (
	"context"
	"fmt"
	"io"

	"github.com/berth-project/berth/06-images/image"
)

// Backend is what a build asks of the engine. The daemon implements it
// with chapter 06's store and runner; the package's tests with a fake, so
// that the builder's logic is tested without root.
type Backend interface {
	// Image finds the image that ref names (a NAME[:TAG] or an ID), for
	// FROM, COPY --from and the cache's checks.
	Image(ctx context.Context, ref string) (Image, error)
	// Run runs a command in a new container of req.Parent, in the
	// foreground, and commits what it changed as a new image: a RUN step.
	// A command that exits with a status other than 0 is an *ExitError.
	Run(ctx context.Context, req RunRequest) (Image, error)
	// Commit makes a new image on req.Parent: with req.Dir, a new layer
	// of the files in it; without, a change of configuration only.
	Commit(ctx context.Context, req CommitRequest) (Image, error)
	// Tag gives the image id the name ref (NAME:TAG).
	Tag(ctx context.Context, id image.Digest, ref string) error
}

// Image is an image as a build sees it.
type Image struct {
	ID     image.Digest
	Author string
	Config image.ContainerConfig
	// Layers are the image's unpacked layer directories, bottom first,
	// read-only. The builder looks into them (COPY's destination, the
	// image's /etc/passwd for --chown) and copies from them (COPY
	// --from).
	Layers []string
}

// RunRequest is one RUN step.
type RunRequest struct {
	Parent Image
	// Command replaces the image's Entrypoint and Cmd: a RUN ignores
	// both.
	Command []string
	// Env is added to the image's environment for this run only: the
	// build arguments in scope.
	Env []string
	// CreatedBy is the new image's history entry.
	CreatedBy      string
	Stdout, Stderr io.Writer
	// Started, if not nil, is called with the container's ID before the
	// command runs.
	Started func(containerID string)
}

// ExitError is a RUN whose command failed.
type ExitError struct {
	Command []string
	Code    int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", joinCommand(e.Command), e.Code)
}

// CommitRequest is a step that makes an image without running anything:
// COPY and ADD (with Dir), and the configuration instructions (ENV, CMD,
// LABEL...), whose history entries are "empty layers".
type CommitRequest struct {
	Parent Image
	// Dir holds the new layer's files, laid out as a container's
	// writable layer would hold them (the image's paths; no whiteouts).
	// "" for a configuration-only step.
	Dir       string
	Config    image.ContainerConfig
	Author    string
	CreatedBy string
}
