// Package manpages writes a cobra command tree's man pages, one per
// command (berth.1, berth-run.1, berth-runtime-create.1, ...), from the
// same definitions as --help, so that the two cannot disagree. berth and
// berth-runtime both use it; `make install` puts the pages where man
// looks.
package manpages
