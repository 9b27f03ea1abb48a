package image

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// layerInfo is layer.json, in a layer's directory.
type layerInfo struct {
	DiffID  Digest `json:"diff_id"`
	ChainID Digest `json:"chain_id"`
	Parent  Digest `json:"parent,omitempty"` // chainID of the layer below
	Size    int64  `json:"size"`
}

// ingest is one layer on its way into the store.
type ingest struct {
	// Parent is the chainID of the layer below ("" for a bottom layer).
	Parent Digest
	// Want is the diffID the layer must have, when it is known (load);
	// "" when it is whatever the content hashes to (commit, import).
	Want Digest
	// BlobFrom, if set, is a file in the store's filesystem that holds
	// exactly the uncompressed tar being read: once the content is
	// verified it is renamed into the blobs instead of written again.
	BlobFrom string
	// Session keeps the layer from being collected until the image
	// that needs it is stored.
	Session *session
}

// addLayer reads an uncompressed layer tar from r once: hashing it (the
// diffID), keeping it (the blob, for save) and unpacking it (the overlay
// lower directory), all at the same time. The unpacked directory and the
// blob are made in the store's tmp directory and renamed into place only
// when complete and verified, so a half-unpacked layer is never visible.
// If the store has the layer already, the new copy is thrown away.
func (s *Store) addLayer(r io.Reader, in ingest) (layerInfo, error) {
	work := s.tempName("layer-")
	if err := os.Mkdir(work, 0o711); err != nil {
		return layerInfo{}, fmt.Errorf("unpacking layer: %w", err)
	}
	defer os.RemoveAll(work) // whatever is left of it
	diff := filepath.Join(work, layerDiffDir)
	if err := os.Mkdir(diff, 0o755); err != nil {
		return layerInfo{}, fmt.Errorf("unpacking layer: %w", err)
	}

	h := sha256.New()
	counter := &countWriter{}
	sinks := []io.Writer{h, counter}
	blobTmp := in.BlobFrom
	var blob *os.File
	if blobTmp == "" {
		blobTmp = s.tempName("blob-")
		f, err := os.OpenFile(blobTmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return layerInfo{}, fmt.Errorf("unpacking layer: %w", err)
		}
		defer os.Remove(blobTmp) // if it was not renamed into the blobs
		defer f.Close()
		blob = f
		sinks = append(sinks, f)
	}
	tee := io.TeeReader(r, io.MultiWriter(sinks...))
	if err := ExtractLayer(tee, diff); err != nil {
		return layerInfo{}, err
	}
	// The tar reader stops at the end-of-archive marker; the diffID is
	// the hash of every byte, padding included.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return layerInfo{}, fmt.Errorf("reading layer: %w", err)
	}
	got := fromHash(h)
	if in.Want != "" && got != in.Want {
		return layerInfo{}, fmt.Errorf("layer content does not match its diffID: the config says %s, the content hashes to %s", in.Want, got)
	}
	info := layerInfo{DiffID: got, ChainID: got, Parent: in.Parent, Size: counter.n}
	if in.Parent != "" {
		info.ChainID = ChainIDs([]Digest{in.Parent, got})[1]
	}
	if blob != nil {
		if err := blob.Sync(); err != nil {
			return layerInfo{}, fmt.Errorf("writing layer blob: %w", err)
		}
	}
	// The unpacked files were written without fsync, one by one: one
	// syncfs(2) makes all of them durable before the layer becomes
	// visible, so a crash cannot leave a visible layer with empty files.
	if err := syncFS(work); err != nil {
		return layerInfo{}, err
	}
	data, err := json.Marshal(info)
	if err != nil {
		return layerInfo{}, fmt.Errorf("encoding layer record: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, layerRecord), data, 0o600); err != nil {
		return layerInfo{}, fmt.Errorf("writing layer record: %w", err)
	}

	unlock, err := s.lock()
	if err != nil {
		return layerInfo{}, err
	}
	defer unlock()
	if _, err := os.Stat(s.blobPath(got)); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(blobTmp, s.blobPath(got)); err != nil {
			return layerInfo{}, fmt.Errorf("storing layer blob: %w", err)
		}
	}
	if !s.hasLayer(info.ChainID) {
		if err := os.Rename(work, s.layerPath(info.ChainID)); err != nil {
			return layerInfo{}, fmt.Errorf("storing layer %s: %w", info.ChainID.Short(), err)
		}
	}
	if in.Session != nil {
		if err := in.Session.protect(info.ChainID); err != nil {
			return layerInfo{}, err
		}
	}
	if err := syncDir(filepath.Join(s.dir, layersDir)); err != nil {
		return layerInfo{}, err
	}
	return info, syncDir(filepath.Join(s.dir, blobsDir))
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing the filesystem of %s: %w", dir, err)
	}
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
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

// session protects the layers that one operation (a commit, an import, a
// load) adds, from the moment they are in the store until the image that
// needs them is: without it, a `rmi` running at the same moment would
// collect them as garbage. It is a lease whose Path is a marker file in
// tmp, so that a session cut short by a crash goes stale with the marker.
type session struct {
	s      *Store
	holder string
	marker string
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
