// Package image keeps container images: a content-addressed store of
// image configs and layers, with Docker's identities, and the archive
// formats that move images between machines (docker save/load,
// export/import, OCI layouts).
//
// # What an image is
//
// Chapter 04 ran containers on a stack of read-only directories given by
// hand (--image DIR:DIR). An image is that stack plus a description,
// named so that any machine computes the same names for the same content:
//
//	image ID = sha256(config JSON)            "which image"
//	   |
//	   v
//	config {                                  the image's config, JSON:
//	  "config": {"Cmd": ["sh"], "Env": [...], "WorkingDir": ...},
//	  "rootfs": {"type": "layers",
//	             "diff_ids": [ D1, D2, D3 ]}, <- one per layer, bottom first
//	  "history": [ {created_by: "import"},    <- one per step
//	               {created_by: "sh -c ..."}, ...]
//	}
//
//	layer tar    diffID = sha256(tar)   chainID (names the layer AND all below)
//	---------    --------------------   ---------------------------------------
//	L3 (commit)  D3                     C3 = sha256(C2 + " " + D3)   -> layers/C3/diff
//	L2 (commit)  D2                     C2 = sha256(C1 + " " + D2)   -> layers/C2/diff
//	L1 (import)  D1                     C1 = D1                      -> layers/C1/diff
//
// A diffID names one layer's changes, as an uncompressed tar: compressing
// it differently for a registry or an archive does not change it. But a
// layer's files only mean something on top of the layers below it (a
// whiteout deletes a file of a lower layer), so an unpacked layer is
// named by its chainID, which covers the whole stack beneath it. Two
// images that start with the same layers have the same chainIDs for them
// and share the directories: an image derived from busybox costs its own
// changes, not another busybox (S21). The image ID is the digest of the
// config, which lists the diffIDs: change one byte of any layer and the
// ID changes. Because the config is hashed exactly as stored, the store
// never re-encodes a config it loaded: it keeps the bytes.
//
// # The store
//
// Everything lives under <root>/images (beside chapter 04's
// <root>/containers):
//
//	images/
//	  blobs/sha256/<hex>     configs (by image ID) and layer tars (by diffID)
//	  layers/<chainID>/
//	    diff/                the unpacked layer: an overlay lower directory
//	    layer.json           diffID, chainID, parent chainID, tar size, content size
//	  meta/<imageID>.json    the image exists; its parent image; its RepoDigests
//	  repositories.json      tags: {"busybox:latest": "sha256:..."}
//	  distribution/<diffID>.json  where registries have the layer's compressed blob
//	  leases/<container>.json  containers using an image's layers
//	  tmp/                   work in progress, on the same filesystem
//	  lock                   flock: changes are made one at a time
//
// The layer tars are kept, beside the unpacked directories. That costs the
// disk space of each layer twice, and buys: `save` is a copy of files (no
// walking of directories, no re-hashing: the bytes already hash to their
// diffID); a layer can always be checked against its diffID; and the
// unpacked directories could be thrown away and rebuilt from the blobs.
// Rebuilding a tar from a directory instead would have to reproduce the
// original bytes exactly (same order, same headers, same padding) to keep
// the diffID, which is what Docker's tar-split metadata exists for.
//
// Crash safety comes from the order of the steps and from rename(2),
// which replaces a name in one step. A layer is unpacked and its blob
// written in tmp/, made durable (one syncfs(2) for all of its files, not
// one fsync each), then renamed into layers/ and blobs/; the config goes
// in next; the image exists only when its meta record is renamed into
// place, and its tags come last. A crash at any point leaves either a
// complete image or garbage in tmp/ and unreferenced layers that the next
// removal (or Recover, at the daemon's start) collects; never a visible
// image that refers to a missing layer, nor a half-written blob. Removal
// goes in the reverse order.
//
// # Ingest: each byte read once, written once
//
// Import, load and commit bring layers in the same way (stageLayer): the
// layer's tar is read once, in chunks of a megabyte, by a goroutine that
// hashes each chunk (the diffID) and hands it to two others: one appends
// it to the blob, the other is the tar extractor. On two cores, hashing
// (and decompressing) overlaps with the unpacking and the disk writes, so
// an ingest costs about its slowest part, the disk, rather than the sum.
// The blob and the big files are written with O_DIRECT: straight to the
// disk, not copied into the page cache first to be written back by the
// sync later; small files stay buffered, and the one syncfs commits them
// all. That is engine tuning (tuning_directio.go), which a first reading
// may skip: docs/performance.md tells what it saves.
//
// # Commit: a container becomes an image (S16, S19, S30)
//
// A container made from an image writes only to its own upper directory
// (chapter 04): the image's layers are never changed, so any number of
// containers share them (S30). `commit` turns that upper directory into
// one more layer: WriteDiff tars it, and the same stream is hashed (the
// new diffID), kept (the blob) and unpacked (the new lower directory) in
// one pass, so the cost follows the size of the change, not of the image.
// The new config is the parent's, with one more diffID and history step.
// The parent's ID is recorded in the store (not in the config, where
// Docker does not put it either), so that `history` can name each
// ancestor and `save` can carry the chain: going back to an earlier state
// is `tag ANCESTOR_ID NAME`, which copies nothing (S4, S34).
//
// A layer stores the ids the container saw. Where a container in a user
// namespace wrote its upper directory with the namespace's host ids
// (berthd's chowned copies, without idmapped mounts), CommitOptions.Unmap
// shifts them back as the tar is written: the image is the same as one
// made without the namespace.
//
// # Whiteouts: two spellings of "deleted"
//
// overlayfs and tar files say "this file of a lower layer is gone" in
// different ways, and the store translates at the border:
//
//	in a layer tar (archives)          in a layer directory (overlay)
//	-------------------------          ------------------------------
//	dir/.wh.NAME    (empty file)  <->  dir/NAME  character device 0/0
//	dir/.wh..wh..opq              <->  dir       xattr trusted.overlay.opaque=y
//
// ExtractLayer converts to the right column, so a layer directory is a
// lower that overlay stacks as it is; WriteDiff converts back when an
// upper directory becomes a layer. The helpers that recognise and make
// overlay's markers are chapter 04's (layer.IsWhiteout, layer.MakeOpaque).
//
// # Extraction is safe by construction
//
// A layer tar comes from somebody else, and a tar can name any path:
// "../../etc/cron.d/x", "/etc/passwd", or a symlink "lib -> /usr/lib"
// followed by an entry "lib/libc.so" that would be written through the
// link, on the host (CVE-2018-15664, CVE-2019-14271 and many more). Checking
// names with strings is not enough: symlinks are resolved by the kernel
// at the moment of each open. So ExtractLayer resolves every path with
// Go's os.Root, which walks the path component by component with
// openat(2) and refuses ".." above the root and any symlink that leads
// out of it, absolute ones included. Each file is then created relative
// to its parent directory's descriptor, with O_EXCL|O_NOFOLLOW, so a
// symlink planted by an earlier entry is replaced, never written through;
// metadata is set with the *at system calls that do not follow links
// (fchownat, utimensat with AT_SYMLINK_NOFOLLOW); hard links are made by
// os.Root, whose target must resolve inside the root. The tests feed it a
// corpus of hostile tars, and FuzzExtract random ones.
//
// # Archives
//
// Save writes the layout of Docker 25 and later: an OCI image layout
// (oci-layout, index.json, blobs/sha256/...), with uncompressed layers
// named by diffID, plus the manifest.json and repositories files of the
// older format, which Docker 20.10 to 24 read; so every Docker since 20.10
// loads it (S7, S33). Load reads that, the Docker ≤ 24 layout
// (<v1id>/layer.tar, <config>.json, manifest.json), and plain OCI layouts
// (skopeo, umoci), compressed with gzip or bzip2 or not, and checks every
// layer against its diffID. Export writes a container's merged file
// system as one flat tar, and Import makes a one-layer image of it: the
// files survive, the history does not (S32, S34).
//
// Load reads an archive as a stream, without first unpacking it to disk:
// the JSON files are kept in memory, and each layer is ingested as it
// comes. Which images a layer belongs to, and so where it goes, is in the
// JSON files. Save writes them before the layers, so that a load of
// berth's archive knows, when a layer comes, whether the store has it
// (then it is skipped, not even unpacked) and stores it as soon as it is
// checked. Docker writes them last; then each layer is unpacked into tmp/
// on speculation, and checked and stored at the end.
//
// # Pull: layers from a registry
//
// Chapter 06's registry package streams a pull into the store through
// Pull (pull.go): the config first, then each layer as the registry
// sends it, several at once, each through the same one-pass ingest as a
// load, and each stored as soon as it is checked (its chainID follows
// from the config alone); the image record comes last. The store also
// keeps what a registry taught it (distribution.go): the RepoDigests
// that name an image by its manifest ("busybox@sha256:..."), and for
// each layer the compressed blob a registry has for it, so that a push
// can skip or mount instead of uploading again.
//
// # Why no dependency for the formats
//
// The OCI image-spec module has Go types for configs, manifests and
// indexes. The store uses its own small types instead (Config, Manifest,
// Index, Descriptor): the documents are a few fields each, the store must
// keep configs byte for byte anyway, and the course's readers see every
// field the store reads.
package image
