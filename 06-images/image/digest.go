package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// Digest names content by its hash, as "sha256:" and 64 hex digits: image
// IDs, diffIDs, chainIDs and the blobs of an OCI layout are all digests.
type Digest string

const digestPrefix = "sha256:"

// FromBytes is the digest of b.
func FromBytes(b []byte) Digest {
	sum := sha256.Sum256(b)
	return Digest(digestPrefix + hex.EncodeToString(sum[:]))
}

// fromHash is the digest that h (a sha256 hash) has computed so far.
func fromHash(h hash.Hash) Digest {
	return Digest(digestPrefix + hex.EncodeToString(h.Sum(nil)))
}

// ParseDigest checks that s is "sha256:" and 64 lowercase hex digits.
// Other algorithms (sha512) are refused: every tool that writes Docker and
// OCI archives uses sha256.
func ParseDigest(s string) (Digest, error) {
	d := Digest(s)
	return d, d.Validate()
}

// Validate reports a digest that is not "sha256:" and 64 lowercase hex
// digits. A digest is used as a file name in the store and in archives,
// so this is also what keeps "../" out of those names.
func (d Digest) Validate() error {
	hexPart, ok := strings.CutPrefix(string(d), digestPrefix)
	if !ok {
		return fmt.Errorf("digest %q: want sha256:<64 hex digits>", string(d))
	}
	if !isHex(hexPart, 64) {
		return fmt.Errorf("digest %q: want 64 lowercase hex digits after sha256:", string(d))
	}
	return nil
}

// Hex is the digest without its "sha256:" prefix: the name of its file.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), digestPrefix) }

// Short is the 12-digit form that `docker images` shows.
func (d Digest) Short() string { return namespace.ShortID(d.Hex()) }

func (d Digest) String() string { return string(d) }

func isHex(s string, n int) bool {
	if n >= 0 && len(s) != n {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ChainIDs returns the chainID of every prefix of a layer stack, given the
// diffIDs from the bottom layer up:
//
//	chain[0] = diff[0]
//	chain[i] = sha256(chain[i-1] + " " + diff[i])
//
// A diffID names one layer's changes; a chainID names a layer together with
// everything below it, which is what an unpacked, stackable layer is. Two
// images that start with the same layers share those chainIDs, and so share
// the unpacked directories in the store.
func ChainIDs(diffIDs []Digest) []Digest {
	chain := make([]Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			chain[i] = d
			continue
		}
		chain[i] = FromBytes([]byte(string(chain[i-1]) + " " + string(d)))
	}
	return chain
}

// ChainID is the chainID of the whole stack: that of its top layer.
func ChainID(diffIDs []Digest) Digest {
	if len(diffIDs) == 0 {
		return ""
	}
	return ChainIDs(diffIDs)[len(diffIDs)-1]
}
