package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Load reads an image archive into the store: what Save writes (Docker
// 25+), what `docker save` of Docker 24 and earlier writes (<id>/layer.tar,
// manifest.json), and a plain OCI image layout (skopeo, umoci, buildkit),
// whole or gzip/bzip2-compressed. Layers may be compressed too. Every layer
// is checked against its diffID (and, in an OCI layout, every blob
// against its descriptor's digest) before an image that uses it is
// stored.
//
// The archive is read once, as a stream: its bytes are not written to
// disk before they are unpacked. The small files (JSON) are kept in
// memory; a file that looks like a layer (a tar, or compressed) goes
// through the same one-pass ingest as an import, into tmp/, as it comes.
// What the layers are (which image, which place in its stack, which
// diffID) is in the JSON files, which an archive may put before the
// layers or after them:
//
//   - Save puts manifest.json and the configs first. Then the plan is
//     known when a layer comes: a layer the store has is skipped without
//     being unpacked, a layer no image needs too, and each new layer is
//     checked and stored as soon as it is read.
//   - Docker and skopeo put them last. Then every layer is unpacked into
//     tmp/ on speculation, and checked and stored at the end (a layer the
//     store has is thrown away then).
//
// Paths that the archive's JSON names are resolved among the archive's
// entries by the rules of os.Root: relative symlinks (Docker's layer.tar
// links) are followed, nothing leads outside. If anything is wrong with
// the archive, no image is added: the layers that were added are
// collected again.
func (s *Store) Load(r io.Reader) ([]Loaded, error) {
	plain, _, err := Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer plain.Close()
	sess, err := s.newSession()
	if err != nil {
		return nil, err
	}
	defer sess.end()
	l := &loader{s: s, sess: sess, a: &archive{nodes: map[string]*archNode{}}, stored: map[Digest]bool{},
		work: s.tempName("load-"), peek: bufio.NewReaderSize(nil, 64<<10)}
	if err := os.Mkdir(l.work, 0o700); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer os.RemoveAll(l.work)
	defer l.discard()
	loaded, err := l.run(plain)
	if err != nil {
		// Layers this load added and no image took go now.
		l.discard()
		sess.end()
		if unlock, lerr := s.lock(); lerr == nil {
			_ = s.gc()
			unlock()
		}
		return nil, fmt.Errorf("load: %w", err)
	}
	return loaded, nil
}

// loader is one Load in progress.
type loader struct {
	s    *Store
	sess *session
	a    *archive
	work string // tmp/load-*: the archive's files too big to keep in memory
	peek *bufio.Reader

	plan    []*loadImage
	planned bool
	// byPath lists, once the plan is known, where each file of the
	// archive is used as a layer.
	byPath map[string][]layerRef
	// waitFor is the file whose absence stopped the last attempt to
	// plan early; noEarly, that planning early is not possible.
	waitFor string
	noEarly bool

	// stored holds the chainIDs that are in the store for this load:
	// there before (and now protected by the session), or stored by it.
	stored map[Digest]bool
	staged []*stagedLayer // to clean up
	spools int
}

type layerRef struct {
	img *loadImage
	i   int // the place in img's stack
}

func (l *loader) run(r io.Reader) ([]Loaded, error) {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		if err := l.entry(hdr, tr); err != nil {
			return nil, err
		}
	}
	if !l.planned {
		plan, err := l.a.plan()
		if err != nil {
			return nil, err
		}
		l.plan = plan
	}
	if len(l.plan) == 0 {
		return nil, errors.New("the archive holds no image")
	}
	// What is not in the store yet was unpacked on speculation (or is
	// in memory): checked and stored now, with one sync for all.
	var pending []layerToStore
	for _, img := range l.plan {
		for i := range img.chains {
			lts, err := l.provide(layerRef{img, i}, nil)
			if err != nil {
				return nil, err
			}
			if lts != nil {
				pending = append(pending, *lts)
			}
		}
	}
	if len(pending) > 0 {
		if err := l.s.storeLayers(pending, l.sess); err != nil {
			return nil, err
		}
	}
	return l.s.addLoaded(l.plan)
}

// entry takes one entry of the archive. Only directories, regular files
// and symlinks mean something in an image archive; the rest is skipped.
func (l *loader) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return fmt.Errorf("archive entry: %w", err)
	}
	if name == "." {
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return l.a.add(name, &archNode{kind: nodeDir})
	case tar.TypeSymlink:
		return l.a.add(name, &archNode{kind: nodeLink, target: hdr.Linkname})
	case tar.TypeReg, tar.TypeRegA:
		return l.file(name, hdr.Size, r)
	}
	return nil
}

func (l *loader) file(name string, size int64, r io.Reader) error {
	key, err := l.a.place(name)
	if err != nil {
		return err
	}
	// A file the disk cannot hold (a sparse entry can claim any size
	// in a few bytes) is refused before it is read.
	if err := checkRoomAt(l.work, "archive file "+name, size); err != nil {
		return err
	}
	if l.planned {
		n := &archNode{kind: nodeFile, file: fileSkipped}
		l.a.set(key, n)
		if refs := l.byPath[key]; len(refs) > 0 {
			return l.streamLayer(n, refs, r)
		}
		return nil // no image needs it
	}
	l.peek.Reset(r)
	head, _ := l.peek.Peek(512)
	if layerLike(head) {
		l.a.set(key, &archNode{kind: nodeFile, file: fileLayer, layer: l.stageEntry(l.peek)})
		return nil
	}
	n, err := l.keep(l.peek, size)
	if err != nil {
		return err
	}
	l.a.set(key, n)
	l.planEarly(key)
	return nil
}

// layerLike reports whether a file that starts with head is a layer: a
// compressed stream, or a tar (whose first block is a header, or zeros
// for an empty tar).
func layerLike(head []byte) bool {
	return DetectCompression(head) != Uncompressed || isTarHeader(head)
}

func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	b = b[:512]
	if bytes.Count(b, []byte{0}) == len(b) || string(b[257:262]) == "ustar" {
		return true
	}
	// A pre-POSIX header has no magic: its checksum is the test.
	want, err := strconv.ParseUint(strings.Trim(string(b[148:156]), " \x00"), 8, 32)
	if err != nil {
		return false
	}
	var sum uint64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += uint64(c)
	}
	return sum == want
}

// Files of the archive that are not layers: JSON documents of a few
// kilobytes. They are kept in memory up to a budget, on disk past it.
const (
	memFile   = 1 << 20  // the biggest file kept in memory
	memBudget = 64 << 20 // for all of them
)

// keep keeps a file of the archive that is not a layer.
func (l *loader) keep(r io.Reader, size int64) (*archNode, error) {
	switch {
	case size > maxJSON:
		// Too big to be read as JSON, and not a layer: nothing can use it.
		return &archNode{kind: nodeFile, file: fileBig}, nil
	case size <= memFile && l.a.mem+size <= memBudget:
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		l.a.mem += int64(len(data))
		return &archNode{kind: nodeFile, file: fileMem, data: data}, nil
	}
	l.spools++
	name := filepath.Join(l.work, strconv.Itoa(l.spools))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("reading tar: %w", err)
	}
	return &archNode{kind: nodeFile, file: fileSpool, spool: name}, nil
}

// planEarly tries to plan the load from manifest.json as soon as all the
// files it needs have come (Save puts them first). It tries again only
// when the file that was missing comes. index.json alone is not enough:
// a manifest.json that came later would be the one to follow.
func (l *loader) planEarly(key string) {
	if l.noEarly || key != "manifest.json" && key != l.waitFor {
		return
	}
	l.a.missing = ""
	plan, err := l.a.planManifest()
	if err != nil || len(plan) == 0 {
		l.waitFor = l.a.missing
		l.noEarly = l.waitFor == ""
		return
	}
	byPath := map[string][]layerRef{}
	for _, img := range plan {
		for i, src := range img.layers {
			key, err := l.a.resolve(src.path, true)
			if err != nil {
				l.noEarly = true // the final planning says why
				return
			}
			byPath[key] = append(byPath[key], layerRef{img, i})
		}
	}
	l.plan, l.planned, l.byPath = plan, true, byPath
}

// streamLayer reads a layer of the plan as it comes in the archive. If
// the store has it at every place the images need it, it is not read.
func (l *loader) streamLayer(n *archNode, refs []layerRef, r io.Reader) error {
	var need []layerRef
	for _, ref := range refs {
		chain := ref.img.chains[ref.i]
		if l.stored[chain] {
			continue
		}
		ok, err := l.s.protectIfPresent(l.sess, chain)
		if err != nil {
			return err
		}
		if ok {
			l.stored[chain] = true
			continue
		}
		need = append(need, ref)
	}
	if len(need) == 0 {
		return nil
	}
	l.peek.Reset(r)
	n.file, n.layer = fileLayer, l.stageEntry(l.peek)
	var pending []layerToStore
	for _, ref := range need {
		lts, err := l.provide(ref, n)
		if err != nil {
			return err
		}
		if lts != nil {
			pending = append(pending, *lts)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return l.s.storeLayers(pending, l.sess)
}

// provide makes sure the layer at ref is in the store, or returns it
// staged and checked, to store. n is the archive's file that holds it,
// nil to look it up.
func (l *loader) provide(ref layerRef, n *archNode) (*layerToStore, error) {
	img, i := ref.img, ref.i
	chain := img.chains[i]
	if l.stored[chain] {
		return nil, nil
	}
	ok, err := l.s.protectIfPresent(l.sess, chain)
	if err != nil {
		return nil, err
	}
	if ok {
		l.stored[chain] = true
		return nil, nil
	}
	lts, err := l.check(ref, n)
	if err != nil {
		return nil, fmt.Errorf("image %s: layer %d (%s): %w", img.id.Short(), i+1, img.layers[i].path, err)
	}
	l.stored[chain] = true
	return lts, nil
}

func (l *loader) check(ref layerRef, n *archNode) (*layerToStore, error) {
	img, i := ref.img, ref.i
	if n == nil {
		var err error
		if n, err = l.a.lookup(img.layers[i].path); err != nil {
			return nil, unsafeIfEscape(err)
		}
	}
	if n.layer == nil {
		// Not taken for a layer when it came: stage it now.
		rc, err := l.a.open(n, img.layers[i].path)
		if err != nil {
			return nil, err
		}
		n.file, n.layer = fileLayer, l.stageEntry(bufio.NewReader(rc))
		rc.Close()
	}
	le := n.layer
	if le.err != nil {
		return nil, le.err
	}
	if d := img.layers[i].digest; d != "" && d != le.raw {
		return nil, fmt.Errorf("blob content hashes to %s, the manifest says %s", le.raw, d)
	}
	if want := img.cfg.RootFS.DiffIDs[i]; le.st.diffID != want {
		return nil, diffIDMismatch(want, le.st.diffID)
	}
	st := le.st
	if le.used {
		// The same layer at another place in a stack, on other layers:
		// another directory, unpacked again from the blob.
		var err error
		if st, err = l.restage(le.st); err != nil {
			return nil, err
		}
	}
	le.used = true
	parent := Digest("")
	if i > 0 {
		parent = img.chains[i-1]
	}
	return &layerToStore{st, st.info(parent)}, nil
}

// stageEntry reads a layer of the archive into tmp/. For a compressed
// layer, the compressed bytes are hashed too: an OCI manifest names its
// layers by that digest. An uncompressed one has one digest for both.
func (l *loader) stageEntry(br *bufio.Reader) *layerEntry {
	head, _ := br.Peek(6)
	var src io.Reader = br
	var raw hash.Hash
	if DetectCompression(head) != Uncompressed {
		raw = sha256.New()
		src = io.TeeReader(br, raw)
	}
	plain, _, err := Decompress(src)
	if err != nil {
		return &layerEntry{err: err}
	}
	defer plain.Close()
	st, err := l.s.stageLayer(plain)
	if err != nil {
		return &layerEntry{err: err}
	}
	l.staged = append(l.staged, st)
	le := &layerEntry{st: st, raw: st.diffID}
	if raw != nil {
		if _, err := io.Copy(io.Discard, src); err != nil {
			return &layerEntry{err: fmt.Errorf("reading layer: %w", err)}
		}
		le.raw = fromHash(raw)
	}
	return le
}

// restage unpacks a staged layer again, from its blob: in tmp/ still, or
// in the store if it was stored.
func (l *loader) restage(st *stagedLayer) (*stagedLayer, error) {
	f, err := os.Open(st.blob)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.Open(l.s.blobPath(st.diffID))
	}
	if err != nil {
		return nil, fmt.Errorf("unpacking layer again: %w", err)
	}
	defer f.Close()
	again, err := l.s.stageLayer(f)
	if err != nil {
		return nil, err
	}
	l.staged = append(l.staged, again)
	return again, nil
}

// discard deletes what is left in tmp/ of the staged layers.
func (l *loader) discard() {
	for _, st := range l.staged {
		st.discard()
	}
	l.staged = nil
}

// protectIfPresent adds the layer chain to the session's lease if the
// store has it: from then on no removal can take it away.
func (s *Store) protectIfPresent(sess *session, chain Digest) (bool, error) {
	unlock, err := s.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	if !s.hasLayer(chain) {
		return false, nil
	}
	return true, sess.protect(chain)
}

// addLoaded adds the images of the plan, whose layers are all in the
// store.
func (s *Store) addLoaded(plan []*loadImage) ([]Loaded, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	inArchive := map[Digest]*loadImage{}
	for _, img := range plan {
		inArchive[img.id] = img
	}
	var loaded []Loaded
	for _, img := range plan {
		// Docker's rule: a parent link is kept if the parent is an image
		// here and its layers are the first layers of the child.
		parent := Digest("")
		if p, ok := inArchive[img.parent]; ok && img.parent != img.id && isPrefix(p.cfg.RootFS.DiffIDs, img.cfg.RootFS.DiffIDs) {
			parent = img.parent
		}
		id, err := s.addImage(img.raw, img.cfg, parent, img.tags)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.id.Short(), err)
		}
		l := Loaded{ID: id}
		for _, t := range img.tags {
			l.Tags = append(l.Tags, t.String())
		}
		loaded = append(loaded, l)
	}
	return loaded, nil
}

// archive is what a Load knows of the archive's entries so far: a tree of
// names, as unpacking it would make, without the bytes of its layers.
type archive struct {
	nodes map[string]*archNode // by clean path, no symlink in the way
	mem   int64                // bytes of files kept in memory
	// missing is the file whose absence the last lookup reported.
	missing string
}

type nodeKind int

const (
	nodeFile nodeKind = iota
	nodeDir
	nodeLink
)

// What Load did with a file of the archive.
type fileState int

const (
	fileMem     fileState = iota // kept in memory: data
	fileSpool                    // kept on disk: spool
	fileBig                      // too big for JSON and not a layer: dropped
	fileSkipped                  // not read: no image needed it
	fileLayer                    // read as a layer: layer
)

type archNode struct {
	kind   nodeKind
	target string // of a symlink
	file   fileState
	data   []byte
	spool  string
	layer  *layerEntry
}

// layerEntry is a file of the archive read as a layer.
type layerEntry struct {
	st   *stagedLayer // nil if it could not be read: err
	raw  Digest       // the digest of the file's bytes
	err  error
	used bool // stored at one place already
}

// maxJSON bounds the JSON files an archive may hold: configs, manifests
// and indexes are kilobytes; a huge one is an attack on memory.
const maxJSON = 32 << 20

// resolve turns a path of the archive into the key of its node,
// following symlinks (the last component's too if followLast) as os.Root
// does: relative ones only, never above the archive's root.
func (a *archive) resolve(name string, followLast bool) (string, error) {
	var cur []string
	rest := strings.Split(name, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return "", fmt.Errorf("archive path %q: %w", name, ErrUnsafePath)
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		n := a.nodes[strings.Join(cur, "/")]
		if n == nil || n.kind != nodeLink || len(rest) == 0 && !followLast {
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("archive path %q: %w", name, syscall.ELOOP)
		}
		if path.IsAbs(n.target) {
			return "", fmt.Errorf("archive path %q: symlink to %q: %w", name, n.target, ErrUnsafePath)
		}
		cur = cur[:len(cur)-1]
		rest = append(strings.Split(n.target, "/"), rest...)
	}
	if len(cur) == 0 {
		return ".", nil
	}
	return strings.Join(cur, "/"), nil
}

// place is the key where an entry named name goes: in its directory,
// reached through symlinks, but not following a symlink of its own name
// (which the entry replaces).
func (a *archive) place(name string) (string, error) {
	dir, base := path.Split(name)
	d, err := a.resolve(dir, true)
	if err != nil {
		return "", fmt.Errorf("archive entry: %w", err)
	}
	return path.Join(d, base), nil
}

func (a *archive) add(name string, n *archNode) error {
	key, err := a.place(name)
	if err != nil {
		return err
	}
	a.set(key, n)
	return nil
}

// set puts n at key. What was there goes, as unpacking would replace it,
// but a directory stays a directory.
func (a *archive) set(key string, n *archNode) {
	old := a.nodes[key]
	if old != nil {
		if old.kind == nodeDir && n.kind == nodeDir {
			return
		}
		a.mem -= int64(len(old.data))
		if old.kind == nodeDir {
			for k := range a.nodes {
				if strings.HasPrefix(k, key+"/") {
					delete(a.nodes, k)
				}
			}
		}
	}
	a.nodes[key] = n
}

// lookup finds the node of a path of the archive, following symlinks.
func (a *archive) lookup(name string) (*archNode, error) {
	key, err := a.resolve(name, true)
	if err != nil {
		return nil, err
	}
	n := a.nodes[key]
	if n == nil {
		a.missing = key
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	}
	return n, nil
}

func (a *archive) exists(name string) bool {
	key, err := a.resolve(name, false)
	return err == nil && a.nodes[key] != nil
}

// read reads a (JSON) file of the archive. Paths come from the archive
// itself: they may not climb out of it.
func (a *archive) read(name string) ([]byte, error) {
	name, err := archivePath(name)
	if err != nil {
		return nil, err
	}
	n, err := a.lookup(name)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if n.kind != nodeFile {
		return nil, fmt.Errorf("archive: %s: not a file", name)
	}
	switch n.file {
	case fileMem:
		return n.data, nil
	case fileSpool:
		return os.ReadFile(n.spool)
	case fileBig:
		return nil, fmt.Errorf("archive: %s: larger than %d bytes", name, maxJSON)
	}
	return nil, fmt.Errorf("archive: %s: a layer, not a JSON document", name)
}

// open opens a file of the archive that was kept, to read it as a layer.
func (a *archive) open(n *archNode, name string) (io.ReadCloser, error) {
	if n.kind != nodeFile {
		return nil, fmt.Errorf("%s: not a file", name)
	}
	switch n.file {
	case fileMem:
		return io.NopCloser(bytes.NewReader(n.data)), nil
	case fileSpool:
		return os.Open(n.spool)
	}
	return nil, fmt.Errorf("%s: not read from the archive, which gives it after the files that describe it", name)
}

// plan reads the archive's description of its images: manifest.json if
// there is one (Docker ≤ 24, Docker 25+, containerd), else index.json
// (plain OCI).
func (a *archive) plan() ([]*loadImage, error) {
	switch {
	case a.exists("manifest.json"):
		return a.planManifest()
	case a.exists("index.json"):
		return a.planOCI()
	case a.exists("repositories"):
		return nil, errors.New("archive has only the pre-Docker-1.10 layout (repositories and <id>/json, no manifest.json): not supported")
	}
	return nil, errors.New("not an image archive: no manifest.json, no index.json")
}
