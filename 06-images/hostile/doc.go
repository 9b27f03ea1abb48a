// Package hostile is a corpus of hostile tars, for the tests of every
// path that takes an archive: docker load, docker import, docker build's
// context, docker cp into a container, and a layer's extraction.
//
// A tar is a list of names, each with a header that its author wrote.
// Nothing stops the author from naming a file "../../etc/cron.d/x", from
// making "lib" a symlink to "/" and then writing "lib/x", from linking to
// the host's /etc/passwd, or from claiming a terabyte of content. A
// reader that trusts the names writes wherever the author wants, as root.
// Each case here is one such trick; the tests run every case through
// every path and check, around the data root, that nothing outside it was
// made or changed.
//
//	hostile.Cases  --gen-->  testdata/NAME.tar  (committed, embedded)
//	      |                          |
//	      +--- same bytes, checked --+
//	                                 v
//	load, import, build, cp, ExtractLayer  --> refused, or contained
//
// The tars are built by code (gen writes them: `go generate
// ./06-images/hostile`), so that anyone can see how each was made and
// make them again; they are committed too, so that other tools (a fuzzer,
// a real docker) can be pointed at the files. TestCorpusIsUpToDate checks
// that the two agree.
//
// Go's tar writer cannot write sparse entries (it drops the GNU.sparse
// records), so the sparse cases and the cut ones are assembled from raw
// 512-byte header blocks (raw.go).
package hostile
