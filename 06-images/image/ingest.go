package image

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// layerInfo is layer.json, in a layer's directory.
type layerInfo struct {
	DiffID  Digest `json:"diff_id"`
	ChainID Digest `json:"chain_id"`
	Parent  Digest `json:"parent,omitempty"` // chainID of the layer below
	Size    int64  `json:"size"`             // of the layer tar
	// Content is the size Docker reports for the layer (see
	// contentSize); nil in records written before berth measured it.
	Content *int64 `json:"content_size,omitempty"`
}

// ingest is one layer on its way into the store.
type ingest struct {
	// Parent is the chainID of the layer below ("" for a bottom layer).
	Parent Digest
	// Session keeps the layer from being collected until the image
	// that needs it is stored.
	Session *session
}

// addLayer reads an uncompressed layer tar from r once: hashing it (the
// diffID), keeping it (the blob, for save) and unpacking it (the overlay
// lower directory), all at the same time (stageLayer). The unpacked
// directory and the blob are made in the store's tmp directory and
// renamed into place only when complete, verified and durable
// (storeLayers), so a half-unpacked layer is never visible. If the store
// has the layer already, the new copy is thrown away. (Load, which knows
// the diffIDs its layers must have, stages and stores them itself.)
func (s *Store) addLayer(r io.Reader, in ingest) (layerInfo, error) {
	st, err := s.stageLayer(r)
	if err != nil {
		return layerInfo{}, err
	}
	defer st.discard()
	info := st.info(in.Parent)
	if err := s.storeLayers([]layerToStore{{st, info}}, in.Session); err != nil {
		return layerInfo{}, err
	}
	return info, nil
}

func diffIDMismatch(want, got Digest) error {
	return fmt.Errorf("layer content does not match its diffID: the config says %s, the content hashes to %s", want, got)
}

// stagedLayer is a layer read into tmp/: unpacked in work/diff, its tar
// in blob. Its place in the store (its chainID) depends on the layers
// below it, which the caller may learn only later (load).
type stagedLayer struct {
	work    string // tmp/layer-*: diff/, then layer.json
	blob    string // tmp/blob-*: the uncompressed tar
	diffID  Digest
	size    int64
	content int64 // see contentSize
}

// info is the layer's record, on top of the layer chain parent.
func (st *stagedLayer) info(parent Digest) layerInfo {
	info := layerInfo{DiffID: st.diffID, ChainID: st.diffID, Parent: parent, Size: st.size, Content: &st.content}
	if parent != "" {
		info.ChainID = ChainIDs([]Digest{parent, st.diffID})[1]
	}
	return info
}

// discard deletes what is left of the staged layer in tmp/ (nothing, once
// storeLayers renamed it into the store).
func (st *stagedLayer) discard() {
	_ = os.RemoveAll(st.work)
	_ = os.Remove(st.blob)
}

// stageLayer reads the layer tar r into tmp/, in one pass over its bytes
// and with both cores busy (see layerPipe): goroutines read r (and so
// decompress it, for a compressed layer), hash it and write the blob,
// while this one unpacks the tar.
func (s *Store) stageLayer(r io.Reader) (*stagedLayer, error) {
	st := &stagedLayer{work: s.tempName("layer-"), blob: s.tempName("blob-")}
	if err := s.stage(st, r); err != nil {
		st.discard()
		return nil, err
	}
	return st, nil
}

func (s *Store) stage(st *stagedLayer, r io.Reader) error {
	if err := os.Mkdir(st.work, 0o711); err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	diff := filepath.Join(st.work, layerDiffDir)
	if err := os.Mkdir(diff, 0o755); err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	blob, err := os.OpenFile(st.blob, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	defer blob.Close()

	p := startLayerPipe(r, blob)
	xerr := ExtractLayer(p, diff)
	if xerr == nil {
		// The tar reader stops at the end-of-archive marker; the diffID
		// is the hash of every byte, padding included, and the blob
		// keeps them all.
		xerr = p.drain()
		if xerr != nil {
			xerr = fmt.Errorf("reading layer: %w", xerr)
		}
	}
	p.stop()
	if p.blobErr != nil {
		return fmt.Errorf("writing layer blob: %w", p.blobErr)
	}
	if xerr != nil {
		return xerr
	}
	if err := blob.Close(); err != nil {
		return fmt.Errorf("writing layer blob: %w", err)
	}
	st.diffID, st.size = fromHash(p.hash), p.size
	st.content, err = contentSize(diff)
	return err
}

// layerToStore is a staged layer and its record.
type layerToStore struct {
	st   *stagedLayer
	info layerInfo
}

// storeLayers makes staged layers part of the store. First everything is
// made durable, then renamed into place: blob into blobs/, layer
// directory into layers/. A crash before the renames leaves garbage in
// tmp/; after them, complete layers that no image uses yet, which the
// next collection deletes unless an image came to need them.
func (s *Store) storeLayers(list []layerToStore, sess *session) error {
	for _, l := range list {
		data, err := json.Marshal(l.info)
		if err != nil {
			return fmt.Errorf("encoding layer record: %w", err)
		}
		if err := os.WriteFile(filepath.Join(l.st.work, layerRecord), data, 0o600); err != nil {
			return fmt.Errorf("writing layer record: %w", err)
		}
	}
	// The blobs, the unpacked files and the records were written
	// without fsync, one by one: one syncfs(2) makes all of them durable
	// before any becomes visible, so a crash cannot leave a visible
	// layer with empty files or a blob with a hole. (The big files
	// and the blobs went to the disk directly, but their sizes and block
	// maps are metadata, which only the sync commits.) One sync for the
	// file system, rather than one fsync per file: thousands of small
	// files would each wait for the disk.
	if err := atomicfile.SyncFS(filepath.Join(s.dir, tmpDir)); err != nil {
		return err
	}

	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	var chains []Digest
	for _, l := range list {
		if _, err := os.Stat(s.blobPath(l.info.DiffID)); errors.Is(err, os.ErrNotExist) {
			if err := os.Rename(l.st.blob, s.blobPath(l.info.DiffID)); err != nil {
				return fmt.Errorf("storing layer blob: %w", err)
			}
		}
		if !s.hasLayer(l.info.ChainID) {
			if err := os.Rename(l.st.work, s.layerPath(l.info.ChainID)); err != nil {
				return fmt.Errorf("storing layer %s: %w", l.info.ChainID.Short(), err)
			}
		}
		chains = append(chains, l.info.ChainID)
	}
	if sess != nil {
		if err := sess.protect(chains...); err != nil {
			return err
		}
	}
	if err := atomicfile.SyncDir(filepath.Join(s.dir, layersDir)); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Join(s.dir, blobsDir))
}

// layerPipe is the one pass over a layer's bytes. A goroutine reads the
// source (and so decompresses it) in chunks of ioChunk bytes; it hands
// every chunk to three others: one hashes it (the diffID), one appends it
// to the blob (directly to the disk), and the extractor reads the chunks
// as its tar stream. A chunk's buffer goes back to the pool when all three
// are done with it. Reading, hashing, unpacking and the disk's writes then
// overlap, on both cores, and the ingest costs about the time of its
// slowest part rather than the sum of all of them.
type layerPipe struct {
	toX, toBlob, toHash chan *chunk
	abort               chan struct{}
	stopOnce            sync.Once
	wg                  sync.WaitGroup

	// Set by the reading goroutine, read after it is done (its close of
	// toX, or wg.Wait).
	size    int64
	readErr error
	// Set by the other goroutines, read after wg.Wait.
	hash    hash.Hash
	blobErr error

	cur *chunk // the extractor's current chunk
	off int
}

type chunk struct {
	buf  *[]byte
	n    int
	refs atomic.Int32
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		putBuffer(c.buf)
	}
}

// pipeDepth is how many chunks may wait for each consumer: enough to
// smooth the disk's pauses, few enough to bound memory.
const pipeDepth = 4

func startLayerPipe(r io.Reader, blob *os.File) *layerPipe {
	p := &layerPipe{
		toX:    make(chan *chunk, pipeDepth),
		toBlob: make(chan *chunk, pipeDepth),
		toHash: make(chan *chunk, pipeDepth),
		abort:  make(chan struct{}),
		hash:   sha256.New(),
	}
	p.wg.Add(3)
	go p.read(r)
	go p.writeBlob(blob)
	go p.sum()
	return p
}

func (p *layerPipe) read(r io.Reader) {
	defer p.wg.Done()
	defer close(p.toHash)
	defer close(p.toBlob)
	defer close(p.toX)
	for {
		buf := getBuffer()
		n, err := fill(r, *buf)
		if n > 0 {
			p.size += int64(n)
			c := &chunk{buf: buf, n: n}
			c.refs.Store(3)
			if !p.send(p.toHash, c) || !p.send(p.toBlob, c) || !p.send(p.toX, c) {
				return
			}
		} else {
			putBuffer(buf)
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			p.readErr = err
			return
		}
	}
}

func (p *layerPipe) send(ch chan<- *chunk, c *chunk) bool {
	select {
	case ch <- c:
		return true
	case <-p.abort:
		return false
	}
}

// writeBlob appends the chunks to the blob. A blob of a chunk or more is
// written with O_DIRECT: all its chunks but the last are full and
// aligned. A failure stops the reading: the ingest has failed.
func (p *layerPipe) writeBlob(f *os.File) {
	defer p.wg.Done()
	var w io.Writer = f
	first := true
	for c := range p.toBlob {
		if first && c.n == ioChunk {
			w = newDirectFile(f)
		}
		first = false
		if p.blobErr == nil {
			if _, err := w.Write((*c.buf)[:c.n]); err != nil {
				p.blobErr = err
				p.stopReading()
			}
		}
		c.release()
	}
}

func (p *layerPipe) sum() {
	defer p.wg.Done()
	for c := range p.toHash {
		p.hash.Write((*c.buf)[:c.n])
		c.release()
	}
}

func (p *layerPipe) stopReading() { p.stopOnce.Do(func() { close(p.abort) }) }

// Read is the extractor's end of the pipe.
func (p *layerPipe) Read(b []byte) (int, error) {
	for p.cur == nil || p.off == p.cur.n {
		if p.cur != nil {
			p.cur.release()
			p.cur = nil
		}
		c, ok := <-p.toX
		if !ok {
			if p.readErr != nil {
				return 0, p.readErr
			}
			return 0, io.EOF
		}
		p.cur, p.off = c, 0
	}
	n := copy(b, (*p.cur.buf)[p.off:p.cur.n])
	p.off += n
	return n, nil
}

// drain takes the rest of the stream, to the end: hashed and kept in the
// blob, not unpacked.
func (p *layerPipe) drain() error {
	if p.cur != nil {
		p.cur.release()
		p.cur = nil
	}
	for c := range p.toX {
		c.release()
	}
	return p.readErr
}

// stop ends the pipe, early if the extractor failed, and waits for its
// goroutines: after it, nothing writes to the blob.
func (p *layerPipe) stop() {
	p.stopReading()
	if p.cur != nil {
		p.cur.release()
		p.cur = nil
	}
	p.wg.Wait()
	for c := range p.toX {
		c.release()
	}
}

// readLayerInfo reads layer.json of the layer chain.
func (s *Store) readLayerInfo(chain Digest) (layerInfo, error) {
	var info layerInfo
	data, err := os.ReadFile(filepath.Join(s.layerPath(chain), layerRecord))
	if err != nil {
		return info, fmt.Errorf("layer %s: %w", chain.Short(), err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("layer %s: %w", chain.Short(), err)
	}
	return info, nil
}

// layerSize is the size of the layer diff at the place chain, as Docker
// reports it (see contentSize). A layer stored before berth measured it
// gives its tar's size.
func (s *Store) layerSize(chain, diff Digest) int64 {
	if info, err := s.readLayerInfo(chain); err == nil && info.Content != nil {
		return *info.Content
	}
	if fi, err := os.Stat(s.blobPath(diff)); err == nil {
		return fi.Size()
	}
	return 0
}

// session protects the layers that one operation (a commit, an import, a
// load) adds, from the moment they are in the store until the image that
// needs them is: without it, a `rmi` running at the same moment would
// collect them as garbage. It is a lease whose Path is a marker file in
// tmp, so that a session cut short by a crash goes stale with the marker.
type session struct {
	s      *Store
	holder string
	marker string
	// mu orders the goroutines of one operation (a pull's layers) that
	// protect layers at the same time: the store's lock is a flock, which
	// serialises them but says nothing to Go's memory model.
	mu     sync.Mutex
	chains []Digest
}

func (s *Store) newSession() (*session, error) {
	marker := s.tempName("session-")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return nil, fmt.Errorf("image store session: %w", err)
	}
	return &session{s: s, holder: filepath.Base(marker), marker: marker}, nil
}

// protect adds chains to the session's lease. The caller holds the lock.
func (ss *session) protect(chains ...Digest) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.chains = append(ss.chains, chains...)
	data, err := json.Marshal(Lease{Holder: ss.holder, Chain: ss.chains, Path: ss.marker})
	if err != nil {
		return fmt.Errorf("encoding lease: %w", err)
	}
	// Atomically: a lease torn by a crash would stop every later removal
	// and collection from reading the list of leases.
	return ss.s.writeAtomic(ss.s.leasePath(ss.holder), data, 0o600)
}

// end drops the session's lease. Layers it protected that no image
// took are collected by the next gc.
func (ss *session) end() {
	_ = os.Remove(ss.s.leasePath(ss.holder))
	_ = os.Remove(ss.marker)
}
