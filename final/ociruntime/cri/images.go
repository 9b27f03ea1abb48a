package cri

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// PauseImage is the sandbox image containerd's CRI is configured with
// (sandbox_image). The name is ours, under the reserved .test domain, so
// that nobody mistakes the stand-in for registry.k8s.io's pause.
const PauseImage = "berth.test/pause:standin"

// Paths of the helper binary inside the images that carry it: the
// standin command acts by the name it is started under (see its main.go).
// Debian's busybox-static has no pgrep and no ipcs applet, which the
// specs call; the real busybox image has both.
const (
	PauseBinary      = "/pause"
	NoNewPrivsBinary = "/usr/local/bin/nonewprivs"
	NginxBinary      = "/usr/sbin/nginx"
	PgrepBinary      = "/usr/bin/pgrep"
	IpcsBinary       = "/usr/bin/ipcs"
)

// File is one file an image adds on top of the busybox base.
type File struct {
	Path string
	Mode int64 // permission bits, with setuid where the image needs it
	Data []byte
	// Helper: the content is the standin binary itself (pause, nonewprivs).
	Helper bool
	// FromBase: the content is this file of the base layer (a copy, not a
	// symbolic link: masking the copy leaves busybox whole).
	FromBase string
}

// StandIn is one image under the names critest uses, built from the
// project's busybox base and a few files, with the configuration
// (entrypoint, user) that the specs which use it rely on.
type StandIn struct {
	Refs   []string // canonical names critest asks the image service for
	Config v1.Config
	Files  []File
	Why    string // which specs use it and what they check
}

var defaultEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

var index = []byte("<html><body>berth stand-in web server</body></html>\n")

// webServer is busybox's httpd in the foreground; the first line it
// logs says "httpd", which the multi-container log spec looks for.
func webServer(listen string) v1.Config {
	return v1.Config{
		Entrypoint: []string{"/bin/sh", "-c",
			"echo httpd: serving /www on " + listen + "; exec httpd -f -v -p " + listen + " -h /www"},
		Env: defaultEnv,
	}
}

// StandIns are the images critest v1.37.0 uses outside its image specs
// (which remove images the others need and are skipped), plus the pause
// image. critest looks each up by its canonical name and pulls only when
// the name is missing, so importing them under those names is enough.
func StandIns() []StandIn {
	return []StandIn{
		{
			Refs:   []string{PauseImage},
			Config: v1.Config{Entrypoint: []string{PauseBinary}, Env: defaultEnv},
			Files:  []File{{Path: PauseBinary, Mode: 0o755, Helper: true}},
			Why:    "every pod's sandbox container: sleeps until SIGTERM/SIGINT, reaps orphans in a shared PID namespace",
		},
		{
			Refs:   []string{"registry.k8s.io/e2e-test-images/busybox:1.29-2"},
			Config: v1.Config{Cmd: []string{"sh"}, Env: defaultEnv},
			Files: []File{
				{Path: "/bin/ls", Mode: 0o755, FromBase: "bin/busybox"},
				{Path: PgrepBinary, Mode: 0o755, Helper: true},
				{Path: IpcsBinary, Mode: 0o755, Helper: true},
			},
			Why: "the default container image: sh, echo, sleep, top, id, hostname, cat, pidof; " +
				"/bin/ls is a file of its own (the MaskedPaths spec masks it: the real image's applets are hard links, " +
				"the base's are symbolic links to /bin/busybox), pgrep (execSync timeout spec), ipcs -m (HostIpc specs)",
		},
		{
			Refs:   []string{"registry.k8s.io/e2e-test-images/httpd:2.4.39-4"},
			Config: webServer("80"),
			Files:  []File{{Path: "/www/index.html", Mode: 0o644, Data: index}},
			Why:    "multi-container specs: a page on port 80 of the pod's address, a log line with \"httpd\"",
		},
		{
			Refs:   []string{"registry.k8s.io/e2e-test-images/nginx:1.14-2"},
			Config: v1.Config{Entrypoint: []string{NginxBinary}, Env: defaultEnv},
			Files:  []File{{Path: NginxBinary, Mode: 0o755, Helper: true}},
			Why: "networking, streaming and PID namespace specs: a page on port 80 (port mapping, port forward); " +
				"a process named nginx whose command line says \"master process\" and whose pid is in /var/run/nginx.pid",
		},
		{
			Refs:   []string{"gcr.io/k8s-staging-cri-tools/hostnet-nginx-" + runtime.GOARCH + ":latest"},
			Config: webServer("127.0.0.1:12003"),
			Files:  []File{{Path: "/www/index.html", Mode: 0o644, Data: index}},
			Why:    "host-network port forward: a page on the host's loopback port 12003",
		},
		{
			Refs:   []string{"registry.k8s.io/e2e-test-images/nonewprivs:1.3"},
			Config: v1.Config{Entrypoint: []string{NoNewPrivsBinary}, Env: defaultEnv},
			Files:  []File{{Path: NoNewPrivsBinary, Mode: 0o4755, Helper: true}},
			Why:    "NoNewPrivs specs: a setuid-root program prints \"Effective uid: N\" (0 unless no_new_privs)",
		},
		{
			Refs:   []string{"gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest"},
			Config: v1.Config{User: "1000", Cmd: []string{"sh"}, Env: defaultEnv},
			Files: []File{
				{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\n" +
					"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" +
					"default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n")},
				{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\ntty:x:5:\nnogroup:x:65534:\n" +
					"default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n")},
			},
			Why: "SupplementalGroupsPolicy specs: user 1000 is in group 50000 by the image's /etc/group",
		},
	}
}

// Build makes the image of s: the busybox base layer (rootfsTar, made by
// scripts/mkrootfs), then one layer with s.Files if it has any. helper is
// the content of the files marked Helper (the static standin binary).
func (s StandIn) Build(rootfsTar string, helper []byte) (v1.Image, error) {
	files := append([]File(nil), s.Files...)
	for i, f := range files {
		if f.FromBase == "" {
			continue
		}
		data, err := fileOfTar(rootfsTar, f.FromBase)
		if err != nil {
			return nil, fmt.Errorf("stand-in %s: %w", s.Refs[0], err)
		}
		files[i].Data = data
	}
	base, err := tarball.LayerFromFile(rootfsTar)
	if err != nil {
		return nil, fmt.Errorf("stand-in %s: base layer %s: %w", s.Refs[0], rootfsTar, err)
	}
	layers := []v1.Layer{base}
	if len(files) > 0 {
		b, err := filesLayer(files, helper)
		if err != nil {
			return nil, fmt.Errorf("stand-in %s: %w", s.Refs[0], err)
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		})
		if err != nil {
			return nil, fmt.Errorf("stand-in %s: files layer: %w", s.Refs[0], err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config:       s.Config,
	})
	if err != nil {
		return nil, fmt.Errorf("stand-in %s: config: %w", s.Refs[0], err)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("stand-in %s: layers: %w", s.Refs[0], err)
	}
	return img, nil
}

// filesLayer is a tar of files (and their parent directories), owned by
// root, with fixed times so that the layer's digest depends only on the
// content.
func filesLayer(files []File, helper []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var dirList []string
	for _, f := range files {
		for d := parentDir(f.Path); d != "/" && d != "."; d = parentDir(d) {
			if !dirs[d] {
				dirs[d] = true
				dirList = append(dirList, d)
			}
		}
	}
	sort.Strings(dirList) // parents before children
	for _, d := range dirList {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, Format: tar.FormatPAX}); err != nil {
			return nil, fmt.Errorf("files layer: %s: %w", d, err)
		}
	}
	for _, f := range files {
		data := f.Data
		if f.Helper {
			if len(helper) == 0 {
				return nil, fmt.Errorf("files layer: %s needs the standin binary, none given", f.Path)
			}
			data = helper
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.Path[1:], Mode: f.Mode, Size: int64(len(data)), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("files layer: %s: %w", f.Path, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("files layer: %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("files layer: %w", err)
	}
	return buf.Bytes(), nil
}

func parentDir(p string) string {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "/"
}

// WriteArchive writes every stand-in, under all its names, into one
// docker-archive tar at path: what `ctr -n k8s.io images import` reads.
// helperPath is the static standin binary copied into the images.
func WriteArchive(path, rootfsTar, helperPath string) error {
	helper, err := os.ReadFile(helperPath)
	if err != nil {
		return fmt.Errorf("stand-in images: helper: %w", err)
	}
	refs := map[name.Reference]v1.Image{}
	for _, s := range StandIns() {
		img, err := s.Build(rootfsTar, helper)
		if err != nil {
			return err
		}
		for _, r := range s.Refs {
			ref, err := name.ParseReference(r)
			if err != nil {
				return fmt.Errorf("stand-in images: %q: %w", r, err)
			}
			refs[ref] = img
		}
	}
	if err := tarball.MultiRefWriteToFile(path, refs); err != nil {
		return fmt.Errorf("stand-in images: write %s: %w", path, err)
	}
	return nil
}

// fileOfTar is the content of the regular file name in the tar at path.
func fileOfTar(path, name string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("base layer %s: no file %s", path, name)
		}
		if err != nil {
			return nil, fmt.Errorf("base layer %s: %w", path, err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == name && hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("base layer %s: %s: %w", path, name, err)
			}
			return b, nil
		}
	}
}
