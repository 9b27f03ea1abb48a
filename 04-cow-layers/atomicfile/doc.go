// Package atomicfile replaces a file whole: a reader, or the machine
// after a crash, finds the old content or the new one, never a part of
// either. Every record berth keeps on disk (a layer's record, the image
// store's files, the network state, the shim's state, the daemon's
// container records) is written through it.
//
// # Why not just write the file
//
// os.WriteFile truncates the file and then writes it. A reader that
// opens it in between reads an empty or a cut file, and a process killed
// halfway leaves one for good. So the new content is written to a
// temporary file and renamed over the old name: rename(2) replaces the
// directory entry in one step, and every open(2) finds either file.
//
//	dir/.state.json.123   write, (fsync)      the new content, aside
//	        |
//	        | rename(2)                       one step for readers
//	        v
//	dir/state.json        (fsync dir)         the rename itself on disk
//
// The temporary file is made in the same directory as the target (or a
// directory the caller names, Options.TempDir, on the same filesystem),
// because rename(2) cannot cross filesystems. It is removed again on
// every failure, so a failed write leaves the old file and nothing else.
//
// # When durability matters
//
// A rename is atomic for readers, not for a crash of the machine: the
// kernel may write the rename to disk before the file's blocks, and after
// the crash the name points at an empty file. Where a record must
// survive the crash (Options.Durable), the file is flushed (fsync) before
// the rename, and the directory after it, which makes the rename itself
// durable. Both wait for the disk, so records that a crash may lose
// anyway (a health status, a restart count) skip them.
//
// # Engine tuning: RENAME_EXCHANGE
//
// Options.Exchange swaps the new file with the old one instead of
// renaming over it (tuning_exchange.go). It is engine tuning: skip it on
// first reading; docs/performance.md tells why it exists.
package atomicfile
