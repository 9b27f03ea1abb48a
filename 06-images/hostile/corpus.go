package hostile

//go:generate go run ./gen

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kind says which paths take a case's tar.
type Kind int

const (
	// Layer is a file system tar: what docker import, a build context,
	// docker cp and a layer of an image hold.
	Layer Kind = iota
	// Archive is an image archive, as docker save writes: what docker
	// load takes.
	Archive
)

// Escaped is the name every case that climbs out tries to create, in
// /tmp or elsewhere: a test looks for it after each case.
const Escaped = "berth-hostile-escaped"

// Climb is enough "../" to reach "/" from any data root.
const Climb = "../../../../../../../../../../../../../../../../"

// SparseSize is the length of the sparse cases' file, of which only
// SparseData, at SparseOffset, is data; the rest is a hole.
const (
	SparseSize   = 64 << 20
	SparseOffset = 32 << 20
	SparseData   = "data"
	SparseName   = "sparse"
)

// epoch is every entry's modification time: the bytes of the corpus do
// not depend on when it was made.
const epoch = 1700000000

// Case is one hostile tar.
type Case struct {
	Name string
	Kind Kind
	// What it tries, for a test's messages.
	What string
	// Refused: chapter 06's ExtractLayer (for a Layer) or Store.Load
	// (for an Archive) must refuse it. Otherwise they take it, and
	// what they make stays inside their directory. Other paths may be
	// more lenient (docker cp resolves a symlink inside the container
	// rather than refusing it): they must refuse or contain.
	Refused bool
	build   func() []byte
}

// Bytes is the case's tar, built again.
func (c Case) Bytes() []byte { return c.build() }

//go:embed testdata/*.tar
var files embed.FS

// File is the case's tar as committed in testdata/ (gen writes them).
func (c Case) File() ([]byte, error) {
	data, err := files.ReadFile("testdata/" + c.Name + ".tar")
	if err != nil {
		return nil, fmt.Errorf("hostile corpus: %w (run go generate ./06-images/hostile)", err)
	}
	return data, nil
}

// Cases lists the corpus, layers first.
func Cases() []Case {
	return append(append([]Case{}, layerCases...), archiveCases...)
}

// Of lists the cases of one kind.
func Of(k Kind) []Case {
	var out []Case
	for _, c := range Cases() {
		if c.Kind == k {
			out = append(out, c)
		}
	}
	return out
}

// ByName finds a case; ok is false if there is none.
func ByName(name string) (Case, bool) {
	for _, c := range Cases() {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// entry is one tar entry: a name ending in "/" is a directory; Link is a
// symlink's target, or a hard link's with Hard.
type entry struct {
	name, body, link string
	hard             bool
	mode             int64
	typeflag         byte
	major, minor     int64
}

// tarOf writes entries with Go's tar writer: for every case it can
// express.
func tarOf(entries ...entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, ModTime: time.Unix(epoch, 0), Format: tar.FormatPAX}
		switch {
		case e.typeflag != 0:
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = e.typeflag, e.major, e.minor
		case strings.HasSuffix(e.name, "/"):
			hdr.Typeflag = tar.TypeDir
		case e.link != "" && e.hard:
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, e.link
		case e.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.body))
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		// Only errors of the writer's own checks can come here, for
		// a corpus written by this file: its tests catch them.
		if err := tw.WriteHeader(hdr); err != nil {
			panic(fmt.Sprintf("hostile corpus: %s: %v", e.name, err))
		}
		if hdr.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(e.body))
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}

func file(name, body string) entry { return entry{name: name, body: body} }
func symlink(name, target string) entry {
	return entry{name: name, link: target}
}
func hardlink(name, target string) entry {
	return entry{name: name, link: target, hard: true}
}

var layerCases = []Case{
	{Name: "dotdot", Kind: Layer, Refused: true, What: "a name that climbs out with ..",
		build: func() []byte { return tarOf(file(Climb+"tmp/"+Escaped, "x")) }},
	{Name: "dotdot-in-the-middle", Kind: Layer, Refused: true, What: "a name that climbs out from a subdirectory",
		build: func() []byte { return tarOf(file("a/b/"+Climb+"tmp/"+Escaped, "x")) }},
	{Name: "absolute", Kind: Layer, What: "an absolute name: made relative, lands inside",
		build: func() []byte { return tarOf(file("/tmp/"+Escaped, "x"), file("/etc/passwd", "root::0:0::/:/bin/sh\n")) }},
	{Name: "symlink-absolute-then-file", Kind: Layer, Refused: true, What: "a symlink to /tmp, then a file through it",
		build: func() []byte { return tarOf(symlink("escape", "/tmp"), file("escape/"+Escaped, "x")) }},
	{Name: "symlink-dotdot-then-file", Kind: Layer, Refused: true, What: "a symlink that climbs out, then a file through it",
		build: func() []byte { return tarOf(symlink("escape", Climb+"tmp"), file("escape/"+Escaped, "x")) }},
	{Name: "symlink-then-overwrite", Kind: Layer, What: "a symlink to the host's /etc/passwd, then a file of that name",
		build: func() []byte { return tarOf(symlink("passwd", "/etc/passwd"), file("passwd", "overwritten")) }},
	{Name: "hardlink-host-passwd", Kind: Layer, Refused: true, What: "a hard link to /etc/passwd",
		build: func() []byte { return tarOf(hardlink("passwd", "/etc/passwd")) }},
	{Name: "hardlink-dotdot", Kind: Layer, Refused: true, What: "a hard link that climbs out to /etc/passwd",
		build: func() []byte { return tarOf(hardlink("passwd", Climb+"etc/passwd")) }},
	{Name: "hardlink-through-symlink", Kind: Layer, Refused: true, What: "a hard link to a host file reached through a symlink",
		build: func() []byte { return tarOf(symlink("etc", "/etc"), hardlink("passwd", "etc/passwd")) }},
	{Name: "device-nodes", Kind: Layer, What: "device nodes (the host's disk, its memory): made in the layer, as Docker does",
		build: func() []byte {
			return tarOf(
				entry{name: "dev/", typeflag: tar.TypeDir, mode: 0o755},
				entry{name: "dev/sda", typeflag: tar.TypeBlock, mode: 0o660, major: 8, minor: 0},
				entry{name: "dev/mem", typeflag: tar.TypeChar, mode: 0o640, major: 1, minor: 1},
				entry{name: "dev/fifo", typeflag: tar.TypeFifo, mode: 0o600})
		}},
	{Name: "setuid", Kind: Layer, What: "setuid and setgid files: kept in the layer, as Docker does",
		build: func() []byte {
			return tarOf(entry{name: "bin/su", body: "#!/bin/sh\n", mode: 0o4755}, entry{name: "bin/sg", body: "#!/bin/sh\n", mode: 0o2755})
		}},
	{Name: "whiteout-dotdot", Kind: Layer, Refused: true, What: "a whiteout of .. (.wh...)",
		build: func() []byte { return tarOf(file(".wh...", "")) }},
	{Name: "whiteout-dotdot-in-dir", Kind: Layer, Refused: true, What: "a whiteout of .. in a directory (sub/.wh...)",
		build: func() []byte { return tarOf(entry{name: "sub/", mode: 0o755}, file("sub/.wh...", "")) }},
	{Name: "whiteout-prefix-climbs", Kind: Layer, Refused: true, What: "a whiteout prefix followed by ../ (sub/.wh.../../..)",
		build: func() []byte { return tarOf(file("sub/.wh.."+"/"+Climb+"tmp/"+Escaped, "")) }},
	{Name: "whiteout-empty", Kind: Layer, Refused: true, What: "a whiteout of nothing (.wh.)",
		build: func() []byte { return tarOf(file("sub/.wh.", "")) }},
	{Name: "size-1tib", Kind: Layer, Refused: true, What: "a header that claims 1 TiB of content, then ends",
		build: func() []byte {
			h := rawHeader{name: "huge", typeflag: '0', size: 1 << 40, mode: 0o644}
			return append(append(h.bytes(), pad([]byte("only this"))...), endOfArchive()...)
		}},
	{Name: "truncated", Kind: Layer, Refused: true, What: "a stream cut in the middle of a file",
		build: func() []byte {
			t := tarOf(file("a", strings.Repeat("a", 4000)), file("b", "b"))
			return t[:block+1000]
		}},
	{Name: "not-a-tar", Kind: Layer, Refused: true, What: "text that is not a tar",
		build: func() []byte { return []byte(strings.Repeat("this is not a tar\n", 60)) }},
	{Name: "sparse-gnu", Kind: Layer, What: "a GNU sparse file (type S): 64 MiB, 4 bytes of data",
		build: func() []byte {
			h := rawHeader{name: SparseName, typeflag: 'S', size: int64(len(SparseData)), mode: 0o644, gnu: true,
				sparse: [][2]int64{{SparseOffset, int64(len(SparseData))}, {SparseSize, 0}}, realsize: SparseSize}
			return append(append(h.bytes(), pad([]byte(SparseData))...), endOfArchive()...)
		}},
	{Name: "sparse-pax", Kind: Layer, What: "a PAX sparse file (GNU.sparse 1.0): 64 MiB, 4 bytes of data",
		build: func() []byte { return sparsePAX(SparseName, SparseSize) }},
	{Name: "sparse-bomb", Kind: Layer, Refused: true, What: "a PAX sparse file that claims 1 EiB in 3.5 KiB",
		build: func() []byte { return sparsePAX("bomb", Bomb) }},
}

// Bomb is the length the sparse bombs claim: 1 EiB, more than any disk.
const Bomb = 1 << 60

// sparsePAX is a PAX 1.0 sparse file, as `tar --sparse --format=posix`
// writes it: a PAX header with GNU.sparse.* records, then a file whose
// content starts with the map (the number of fragments, then an offset
// and a length for each, one number a line, padded to a block), then
// the fragments' data.
func sparsePAX(name string, size int64) []byte {
	pax := paxRecords(map[string]string{
		"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
		"GNU.sparse.name": name, "GNU.sparse.realsize": fmt.Sprint(size),
	})
	sparseMap := pad([]byte(fmt.Sprintf("2\n%d\n%d\n%d\n0\n", SparseOffset, len(SparseData), size)))
	content := append(sparseMap, SparseData...)
	var out []byte
	out = append(out, rawHeader{name: "./PaxHeaders/" + name, typeflag: 'x', size: int64(len(pax)), mode: 0o644}.bytes()...)
	out = append(out, pad(pax)...)
	out = append(out, rawHeader{name: "./GNUSparseFile.0/" + name, typeflag: '0', size: int64(len(content)), mode: 0o644}.bytes()...)
	out = append(out, pad(content)...)
	return append(out, endOfArchive()...)
}

// image is a docker save archive of one image whose one layer is layer.
// edit may change the manifest and add entries before it is written.
func image(layer []byte, edit func(m map[string]any) []entry) []byte {
	sum := sha256.Sum256(layer)
	diffID := "sha256:" + hex.EncodeToString(sum[:])
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config":  map[string]any{"Cmd": []string{"sh"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]any{{"created_by": "hostile corpus"}},
	})
	csum := sha256.Sum256(config)
	cfgName := hex.EncodeToString(csum[:]) + ".json"
	layerName := hex.EncodeToString(sum[:]) + "/layer.tar"
	m := map[string]any{"Config": cfgName, "RepoTags": []string{"hostile:latest"}, "Layers": []string{layerName}}
	var extra []entry
	if edit != nil {
		extra = edit(m)
	}
	manifest, _ := json.Marshal([]any{m})
	entries := []entry{file(cfgName, string(config)), file(layerName, string(layer))}
	entries = append(entries, extra...)
	entries = append(entries, file("manifest.json", string(manifest)))
	return tarOf(entries...)
}

// ImageOf is a docker save archive of one well-formed image whose one
// layer is layer: for running a Layer case through docker load.
func ImageOf(layer []byte) []byte { return image(layer, nil) }

// layerOf is a Layer case's tar, for the archives that carry one.
func layerOf(name string) []byte {
	for _, c := range layerCases {
		if c.Name == name {
			return c.Bytes()
		}
	}
	panic("hostile corpus: no layer case " + name)
}

var archiveCases = []Case{
	{Name: "archive-config-dotdot", Kind: Archive, Refused: true, What: "manifest.json names ../../etc/passwd as the config",
		build: func() []byte {
			return image(tarOf(file("hello", "hi")), func(m map[string]any) []entry { m["Config"] = "../../etc/passwd"; return nil })
		}},
	{Name: "archive-layer-dotdot", Kind: Archive, Refused: true, What: "manifest.json names ../../etc/passwd as a layer",
		build: func() []byte {
			return image(tarOf(file("hello", "hi")), func(m map[string]any) []entry {
				m["Layers"] = []string{"../../etc/passwd"}
				return nil
			})
		}},
	{Name: "archive-layer-absolute", Kind: Archive, Refused: true, What: "manifest.json names /etc/passwd as a layer",
		build: func() []byte {
			return image(tarOf(file("hello", "hi")), func(m map[string]any) []entry {
				m["Layers"] = []string{"/etc/passwd"}
				return nil
			})
		}},
	{Name: "archive-layer-symlink-out", Kind: Archive, Refused: true, What: "the layer file is a symlink to the host's /etc/passwd",
		build: func() []byte {
			return image(tarOf(file("hello", "hi")), func(m map[string]any) []entry {
				m["Layers"] = []string{"link/layer.tar"}
				return []entry{symlink("link/layer.tar", "/etc/passwd")}
			})
		}},
	{Name: "archive-repotag-dotdot", Kind: Archive, Refused: true, What: "a RepoTags entry that is a path",
		build: func() []byte {
			return image(tarOf(file("hello", "hi")), func(m map[string]any) []entry {
				m["RepoTags"] = []string{"../../../etc:passwd"}
				return nil
			})
		}},
	{Name: "archive-index-digest-dotdot", Kind: Archive, Refused: true, What: "an OCI index whose manifest digest is a path",
		build: func() []byte {
			index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../../etc/passwd","size":10}]}`
			return tarOf(file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), file("index.json", index))
		}},
	{Name: "archive-with-dotdot-layer", Kind: Archive, Refused: true, What: "a well-formed image whose layer climbs out",
		build: func() []byte { return image(layerOf("dotdot"), nil) }},
	{Name: "archive-with-symlink-layer", Kind: Archive, Refused: true, What: "a well-formed image whose layer writes through a symlink",
		build: func() []byte { return image(layerOf("symlink-absolute-then-file"), nil) }},
	{Name: "archive-with-hardlink-layer", Kind: Archive, Refused: true, What: "a well-formed image whose layer links to /etc/passwd",
		build: func() []byte { return image(layerOf("hardlink-host-passwd"), nil) }},
	{Name: "archive-with-sparse-layer", Kind: Archive, What: "a well-formed image whose layer has a sparse file",
		build: func() []byte { return image(layerOf("sparse-pax"), nil) }},
	{Name: "archive-sparse-bomb-entry", Kind: Archive, Refused: true, What: "an archive whose layer file is a sparse entry that claims 1 EiB",
		build: func() []byte {
			// The image's tar, cut before its end, then the layer
			// again under another name, as a sparse entry.
			t := image(tarOf(file("hello", "hi")), func(m map[string]any) []entry {
				m["Layers"] = []string{"bomb/layer.tar"}
				return nil
			})
			return append(t[:len(t)-2*block], sparsePAX("bomb/layer.tar", Bomb)...)
		}},
}
