// Package build is berth's Dockerfile builder: Docker's classic builder
// (`docker build` with DOCKER_BUILDKIT=0), which berthd runs for POST
// /build.
//
// # An image is made of commits
//
// Chapter 06 made an image out of a container: run something, then commit
// the container's writable layer as one more layer on the image (S16,
// S19). A Dockerfile is that, written down so that anyone can do it again
// (S5): each instruction is one step on the image the previous step made,
// and each step is an image of its own.
//
//	FROM busybox                  the base: an image already in the store (S6)
//	   |
//	RUN apk add ...               a container of the image runs the command;
//	   |                            its writable layer becomes a new layer
//	COPY app/ /srv/app/           the files become a new layer directly
//	   |
//	ENV PORT=8080                 only the configuration changes: a history
//	CMD ["/srv/app/run"]            entry marked empty_layer, no layer
//	   |
//	   v
//	the final image: busybox's layers + one per RUN, COPY and ADD,
//	and one history entry per step, each naming the image it made
//
// The package reads the Dockerfile (Parse), substitutes variables the way
// the Dockerfile reference says (ENV and ARG values, ${VAR:-default},
// quotes and escapes), applies .dockerignore to the context (Ignore), and
// drives the steps (Build) through a Backend that the daemon implements
// with chapter 06's store and runner. The tests drive it with a fake
// backend, without root.
//
// # The cache: why a rebuild is fast
//
// The same instruction on the same image gives the same result, so the
// image a step made can stand in for the step the next time:
//
//	key = parent image ID + the step as its history records it
//	      (RUN: the command and the build arguments it sees;
//	       COPY, ADD: a digest of the copied files' names, modes and contents;
//	       ENV, CMD, ...: the instruction with its variables replaced)
//
// A rebuild with nothing changed looks each key up, finds the image, and
// prints " ---> Using cache": no container runs, no layer is written. A
// changed file changes its COPY's key, so that COPY and every step after
// it are done again (their parent changed), while the steps before come
// from the cache: this is why Dockerfiles copy what changes often (the
// source) after what rarely does (the dependencies). The cache is a
// directory of small files, one per key, each written to a temporary name
// and renamed, so that a crash never leaves half an entry (Cache). Each
// hit sets its entry's time, so that docker builder prune (the daemon's,
// over Entries and Remove) can keep the entries a build used lately
// (--filter until=24h) and drop the others.
//
// # COPY without a container
//
// COPY and ADD need no process: the builder copies the files into an
// empty directory laid out as the container's writable layer would be
// after the same copy, and the daemon commits that directory like a RUN's.
// Two details keep the layer honest. A directory on the way that the
// image has already (/etc) is written with the image's owner and mode, as
// overlay's copy-up would write it: otherwise the layer would change
// /etc's mode for every image built on it. And a symbolic link on the way
// (/bin -> usr/bin in merged-/usr images) is followed inside the image,
// so that the files land where the link points instead of replacing the
// link by a directory. The image's layers are read as overlay stacks them
// (whiteouts, opaque directories: see chapter 04) without mounting
// anything (tree).
//
// Everything a build reads comes from its client: the context's paths are
// resolved inside the context, a link in it is never followed to the
// host's files, and what a COPY writes never goes through a link: the
// tests try.
//
// # What berth's builder does not do
//
// It has no network, so ADD takes no URL and RUN has only a loopback
// interface (--network is ignored). HEALTHCHECK, ONBUILD, RUN --mount and
// heredocs are refused with the line they are on. FROM scratch is not
// supported: a build starts from an image of the store (import or load
// one). Failed RUN containers are removed, not kept for debugging.
package build
