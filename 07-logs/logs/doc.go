// Package logs records what a container writes (and what is written to
// it) in a log file, and reads it back: whole, from the end, or following
// it as it grows.
//
// # Why a log at all
//
// A container started in the background (run -d) has nobody at its
// terminal. Its stdout and stderr are pipes, and whatever is at the other
// end must keep reading them, or the container blocks on its next write
// once the pipe's 64 KiB are full. The container's supervisor (package
// shim) reads them and writes every piece, with the time it arrived and
// the stream it came from, to <container>/container.log. `logs` reads that
// file later, `logs -f` while it grows (S15, S35).
//
// # The format
//
// One record per line of text, in the format Kubernetes' container
// runtimes write (the "CRI log format"), with stdin as a third stream:
//
//	2024-05-01T09:30:00.123456789Z stdout F hello, world
//	2024-05-01T09:30:00.123501200Z stderr F warning: disk almost full
//	2024-05-01T09:30:01.000420000Z stdout P progress: 10%...
//	2024-05-01T09:30:02.500000000Z stdout F  20%
//	`------------ time ----------' stream | `-- the output, raw
//	                                      tag: F = the line ended here
//	                                           P = it goes on in the next record
//
// The container's newline is not stored: the F tag stands for it, and the
// record's own '\n' ends the record. So a record's data can hold any byte
// except '\n', and every other byte, NUL and invalid UTF-8 included, is
// written as it is: no escaping, no base64, no JSON. The four kinds of
// output that break naive log formats all come back exact:
//
//	output                        records
//	"hello\n"                     F "hello"
//	"no newline at the end"       P "no newline at the end"
//	a 40 KiB line                 P 16 KiB, P 16 KiB, F 8 KiB     (MaxRecord)
//	"\x00\xff\n\x01"              F "\x00\xff", P "\x01"
//
// Reading a whole log is a loop over lines (bytes.IndexByte, which runs
// at memory speed) that writes each record's bytes out again.
//
// # Tail reads from the end
//
// Because a record can never contain '\n', the end of the previous record
// is always the previous newline. `logs --tail 10` reads the file
// backwards, 64 KiB at a time, counting F records until it has seen ten
// lines, and starts there: reading the last ten lines of a 1 GB log costs
// the same as of a 1 KB one. (A format that escapes newlines inside
// quotes, like Docker's JSON lines, is also scannable backwards; a
// length-prefixed binary format is not, unless each record also carries
// its length at its end.)
//
// # Rotation
//
// With --log-opt max-size=10m --log-opt max-file=3 the writer starts a
// new file before a record would make the current one larger than 10 MiB:
//
//	container.log.1 -> container.log.2    (the old .2 is deleted)
//	container.log   -> container.log.1
//	                   container.log      (new, empty)
//
// A reader holds its files open, so a rename does not disturb it. A
// follower that reaches the end of its file checks whether container.log
// is still the same file (inode); if not, it reads its old file to the
// end and moves on to the next newer one, found by inode among the
// rotated names.
//
// # Following
//
// `logs -f` waits for the file to change with inotify, on the directory,
// so that it also wakes up when the writer renames files and when the
// container's state file changes: the caller's Alive function then says
// whether the container still runs. When it no longer does, the reader
// reads to the end once more and stops, like docker logs -f.
package logs
