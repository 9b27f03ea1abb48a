package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

func TestChainIDsFollowTheOCIFormula(t *testing.T) {
	a, b, c := FromBytes([]byte("a")), FromBytes([]byte("b")), FromBytes([]byte("c"))
	sum := func(s string) Digest {
		h := sha256.Sum256([]byte(s))
		return Digest("sha256:" + hex.EncodeToString(h[:]))
	}
	ab := sum(string(a) + " " + string(b))
	abc := sum(string(ab) + " " + string(c))
	assert.Equal(t, []Digest{a, ab, abc}, ChainIDs([]Digest{a, b, c}))
	assert.Equal(t, abc, ChainID([]Digest{a, b, c}))
	assert.Equal(t, Digest(""), ChainID(nil))
	// The empty layer tar (1024 zero bytes) has a well-known diffID.
	assert.Equal(t, Digest("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"), FromBytes(make([]byte, 1024)))
	require.NoError(t, a.Validate())
	for _, bad := range []string{"", "sha256:", "md5:" + a.Hex(), "sha256:" + a.Hex()[:63], "sha256:../../etc/passwd", "sha256:" + a.Hex()[:63] + "G"} {
		_, err := ParseDigest(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseReferenceUsesDockersShortForm(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                          "busybox:latest",
		"busybox:1.36":                     "busybox:1.36",
		"docker.io/library/busybox:1.36":   "busybox:1.36",
		"docker.io/team/app":               "team/app:latest",
		"localhost:5000/team/app":          "localhost:5000/team/app:latest",
		"localhost:5000/team/app:v2":       "localhost:5000/team/app:v2",
		"registry.example/x/y:Tag_1.0-rc1": "registry.example/x/y:Tag_1.0-rc1",
		// A repository on Docker Hub whose first component looks like
		// a registry keeps docker.io: its short form would name
		// another image (found by FuzzParseReference).
		"docker.io/docker.io/0":         "docker.io/docker.io/0:latest",
		"docker.io/localhost/app":       "docker.io/localhost/app:latest",
		"index.docker.io/example.com/x": "docker.io/example.com/x:latest",
		"docker.io/library/team/app":    "library/team/app:latest",
	} {
		r, err := ParseReference(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, r.String(), in)
	}
	r, _ := ParseReference("busybox:1.36")
	assert.Equal(t, "docker.io/library/busybox:1.36", r.FullName())
	r, _ = ParseReference("localhost:5000/app")
	assert.Equal(t, "localhost:5000/app:latest", r.FullName())
	for _, bad := range []string{"", "Busybox", "a b", "app:", "app:-x", "app@sha256:" + FromBytes(nil).Hex(), "app//x", "-app", FromBytes(nil).Hex(),
		"../x", "./x", "a..b/x", "-host.example/x", "host.example:port/x", "host.example:99999/x"} {
		_, err := ParseReference(bad)
		assert.Error(t, err, bad)
	}
}

// containerUpper makes a directory like the upper directory of a
// container run on the busybox image: a new file, a deleted file (a
// whiteout) and a directory that was removed and made again (opaque).
func containerUpper(t *testing.T, files map[string]string) string {
	t.Helper()
	up := t.TempDir()
	for name, body := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(up, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(up, name), []byte(body), 0o644))
	}
	return up
}

func whiteout(t *testing.T, up, name string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(up, name)), 0o755))
	require.NoError(t, unix.Mknod(filepath.Join(up, name), unix.S_IFCHR, 0))
}

func opaque(t *testing.T, up, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(up, dir), 0o755))
	require.NoError(t, unix.Lsetxattr(filepath.Join(up, dir), "trusted.overlay.opaque", []byte("y"), 0))
}

func TestS21_ABaseImageAndAnImageDerivedFromIt(t *testing.T) {
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	files := flat(t, s, base.ID)
	assert.Contains(t, files, "bin/busybox", "the base image carries its software")
	assert.Len(t, base.Config.RootFS.DiffIDs, 1)
	assert.Equal(t, []string{"/bin/sh"}, base.Config.Config.Cmd)
	assert.Equal(t, []string{"busybox:latest"}, base.Tags)
	raw, err := s.RawConfig(base.ID)
	require.NoError(t, err)
	assert.Equal(t, base.ID, FromBytes(raw), "the image ID is the sha256 of its config")

	up := containerUpper(t, map[string]string{"app/run.sh": "echo app"})
	app, err := s.Commit(up, CommitOptions{Parent: base.ID, Ref: "app", CreatedBy: "sh -c install app"})
	require.NoError(t, err)
	baseLayers, err := s.LayerDirs(base.ID)
	require.NoError(t, err)
	appLayers, err := s.LayerDirs(app.ID)
	require.NoError(t, err)
	require.Len(t, appLayers, 2)
	assert.Equal(t, baseLayers[0], appLayers[0], "the derived image stacks on the base's own layer directory")
	assert.Equal(t, 2, countEntries(t, filepath.Join(s.Dir(), "layers")), "one unpacked copy of the base, shared")
	assert.Equal(t, "echo app", flat(t, s, app.ID)["app/run.sh"])
}

func TestS16_S19_S30_CommitMakesANewImageAndLeavesItsParentAlone(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	baseLayers, err := s.LayerDirs(base.ID)
	require.NoError(t, err)
	before := tree(t, baseLayers[0])

	// What a container changed: a file added, /bin/vi deleted, /etc
	// replaced by a directory holding only motd.
	up := containerUpper(t, map[string]string{"hello.txt": "hello", "etc/motd": "welcome"})
	whiteout(t, up, "bin/vi")
	opaque(t, up, "etc")
	cmd := []string{"cat", "/hello.txt"}
	img, err := s.Commit(up, CommitOptions{
		Parent: base.ID, Ref: "derived:v1", CreatedBy: "sh -c echo hello > /hello.txt",
		Comment: "add hello", Author: "berth", Config: &ContainerConfig{Cmd: cmd},
	})
	require.NoError(t, err)

	assert.Equal(t, base.ID, img.Parent)
	assert.Equal(t, []string{"derived:v1"}, img.Tags)
	assert.Equal(t, cmd, img.Config.Config.Cmd)
	require.Len(t, img.Config.RootFS.DiffIDs, 2)
	assert.Equal(t, base.Config.RootFS.DiffIDs[0], img.Config.RootFS.DiffIDs[0])
	require.Len(t, img.Config.History, 2)
	assert.Equal(t, "sh -c echo hello > /hello.txt", img.Config.History[1].CreatedBy)
	assert.Equal(t, "add hello", img.Config.History[1].Comment)

	// The new layer is the upper directory, with overlay's markers turned
	// into the archive's, and its diffID is the sha256 of that tar.
	top := img.Config.RootFS.DiffIDs[1]
	blob, err := os.ReadFile(s.blobPath(top))
	require.NoError(t, err)
	assert.Equal(t, top, FromBytes(blob))
	assert.Equal(t, []string{"d bin/", "f bin/.wh.vi", "d etc/", "f etc/.wh..wh..opq", "f etc/motd", "f hello.txt"}, tarNames(t, blob))

	files := flat(t, s, img.ID)
	assert.Equal(t, "hello", files["hello.txt"])
	assert.NotContains(t, files, "bin/vi")
	assert.NotContains(t, files, "etc/passwd", "etc is opaque: the base's files are hidden")
	assert.Equal(t, "welcome", files["etc/motd"])

	// S30: the parent image is untouched.
	again, err := s.Get("busybox")
	require.NoError(t, err)
	assert.Equal(t, base.ID, again.ID)
	assert.Equal(t, before, tree(t, baseLayers[0]))
	assert.Contains(t, flat(t, s, base.ID), "etc/passwd")

	// S19: the image is read-only: the container's layer became a
	// shared lower directory, and a container made from the new image
	// writes its own upper, not that.
	dirs, err := s.LayerDirs(img.ID)
	require.NoError(t, err)
	assert.NotEqual(t, up, dirs[1])
}

func TestS4_SnapshotsShareLayersAndSwitchingBackIsATag(t *testing.T) {
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	ids := []Digest{base.ID}
	for i, state := range []string{"one", "two", "three"} {
		up := containerUpper(t, map[string]string{"state": state})
		img, err := s.Commit(up, CommitOptions{Parent: ids[len(ids)-1], Ref: "app:" + state, CreatedBy: "write " + state})
		require.NoError(t, err)
		assert.Len(t, img.Config.RootFS.DiffIDs, i+2)
		ids = append(ids, img.ID)
	}
	// Each snapshot costs one layer: its own change.
	assert.Equal(t, 4, countEntries(t, filepath.Join(s.Dir(), "layers")))

	// The history is the parent chain, each step with its image.
	steps, err := s.History("app:three")
	require.NoError(t, err)
	require.Len(t, steps, 4)
	assert.Equal(t, []Digest{ids[3], ids[2], ids[1], ids[0]}, []Digest{steps[0].ID, steps[1].ID, steps[2].ID, steps[3].ID})
	assert.Equal(t, "write three", steps[0].CreatedBy)
	assert.Equal(t, "busybox base", steps[3].Comment)
	assert.Positive(t, steps[3].Size)

	// Going back to "one" is a tag: no file is copied or unpacked.
	require.NoError(t, s.Tag(ids[1].Short(), "app:current"))
	cur, err := s.Get("app:current")
	require.NoError(t, err)
	assert.Equal(t, ids[1], cur.ID)
	assert.Equal(t, "one", flat(t, s, cur.ID)["state"])
	assert.Equal(t, 4, countEntries(t, filepath.Join(s.Dir(), "layers")))
}

func TestS31_RmiRemovesImagesButNotWhatIsInUse(t *testing.T) {
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	child, err := s.Commit(containerUpper(t, map[string]string{"f": "1"}), CommitOptions{Parent: base.ID, Ref: "app:1"})
	require.NoError(t, err)
	require.NoError(t, s.Tag("app:1", "app:2"))
	childLayers, err := s.LayerDirs(child.ID)
	require.NoError(t, err)

	// A second tag: only the tag goes.
	done, err := s.Remove("app:1", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: app:1"}, done)
	// The base has a child: it cannot be deleted by ID, even forced.
	_, err = s.Remove(base.ID.Short(), true)
	assert.ErrorIs(t, err, ErrConflict)
	assert.Contains(t, err.Error(), "dependent child images")

	// A container uses the child: refused, unless forced.
	cdir := t.TempDir()
	require.NoError(t, s.Use("c1", child.ID, cdir))
	_, err = s.Remove("app:2", false)
	assert.ErrorIs(t, err, ErrConflict)
	assert.Contains(t, err.Error(), "container c1 is using")
	done, err = s.Remove("app:2", true)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: app:2", "Deleted: " + string(child.ID)}, done)
	_, err = s.Get(child.ID.String())
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = os.Stat(childLayers[1])
	assert.NoError(t, err, "the container still has its layers")

	// When the container lets go, its layers go.
	require.NoError(t, s.Release("c1"))
	_, err = os.Stat(childLayers[1])
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(s.blobPath(child.Config.RootFS.DiffIDs[1]))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A lease whose container directory is gone does not hold anything.
	require.NoError(t, s.Use("c2", base.ID, cdir))
	require.NoError(t, os.RemoveAll(cdir))
	done, err = s.Remove("busybox", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: busybox:latest", "Deleted: " + string(base.ID)}, done)
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), "layers")))
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), "blobs", "sha256")))
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), "leases")))
	_, err = s.Remove("busybox", false)
	assert.ErrorIs(t, err, ErrNotFound)
}

// An ephemeral lease holds like any other. Torn by a crash (it is not
// flushed), it stops collections like any torn lease, until Recover
// drops it; its holder then takes it again with Use.
func TestAnEphemeralLeaseTornByACrashIsDroppedByRecover(t *testing.T) {
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	cdir := t.TempDir()
	require.NoError(t, s.UseEphemeral("c1", base.ID, cdir))
	_, err := s.Remove("busybox", false)
	assert.ErrorIs(t, err, ErrConflict, "a whole ephemeral lease holds the image")

	require.NoError(t, os.WriteFile(s.leasePath("c1"), nil, 0o600))
	_, err = s.users(base.ID)
	assert.Error(t, err, "a torn lease is not taken for none")
	require.NoError(t, s.Recover())
	assert.NoFileExists(t, s.leasePath("c1"))

	require.NoError(t, s.Use("c1", base.ID, cdir))
	l, err := s.Lease("c1")
	require.NoError(t, err)
	assert.Equal(t, base.ID, l.Image)
}

func TestRmiPrunesUntaggedParentsAndRefusesAmbiguity(t *testing.T) {
	s := newStore(t)
	base := importBusybox(t, s, "")
	mid, err := s.Commit(containerUpper(t, map[string]string{"a": "1"}), CommitOptions{Parent: base.ID})
	require.NoError(t, err)
	top, err := s.Commit(containerUpper(t, map[string]string{"b": "2"}), CommitOptions{Parent: mid.ID, Ref: "top"})
	require.NoError(t, err)
	require.NoError(t, s.Tag("top", "other:tag"))
	_, err = s.Remove(top.ID.String(), false)
	assert.ErrorIs(t, err, ErrConflict, "by ID, an image with two tags needs force")
	done, err := s.Remove(top.ID.String(), true)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"Untagged: other:tag", "Untagged: top:latest",
		"Deleted: " + string(top.ID), "Deleted: " + string(mid.ID), "Deleted: " + string(base.ID)}, done)
	images, err := s.Images()
	require.NoError(t, err)
	assert.Empty(t, images)
}

func TestS32_ExportThenImportKeepsTheFileSystem(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	dirs, err := s.LayerDirs(base.ID)
	require.NoError(t, err)
	up := containerUpper(t, map[string]string{"root/notes": "kept"})
	whiteout(t, up, "bin/vi")

	var exported bytes.Buffer
	require.NoError(t, Flatten(&exported, append(dirs, up)))
	for _, n := range tarNames(t, exported.Bytes()) {
		assert.NotContains(t, n, ".wh.")
	}
	img, err := s.Import(bytes.NewReader(exported.Bytes()), ImportOptions{Ref: "restored"})
	require.NoError(t, err)
	want := flat(t, s, base.ID, up)
	assert.Equal(t, want, flat(t, s, img.ID))
	assert.Equal(t, "kept", want["root/notes"])
	assert.NotContains(t, want, "bin/vi")
}

func TestS34_ExportThenImportLosesTheHistory(t *testing.T) {
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	v1, err := s.Commit(containerUpper(t, map[string]string{"state": "one"}), CommitOptions{Parent: base.ID, CreatedBy: "one"})
	require.NoError(t, err)
	v2, err := s.Commit(containerUpper(t, map[string]string{"state": "two"}), CommitOptions{Parent: v1.ID, Ref: "app", CreatedBy: "two"})
	require.NoError(t, err)
	require.Len(t, v2.Config.RootFS.DiffIDs, 3)

	var exported bytes.Buffer
	dirs, err := s.LayerDirs(v2.ID)
	require.NoError(t, err)
	require.NoError(t, Flatten(&exported, dirs))
	flatImg, err := s.Import(&exported, ImportOptions{Ref: "flat"})
	require.NoError(t, err)

	assert.Len(t, flatImg.Config.RootFS.DiffIDs, 1, "one flat layer")
	assert.Empty(t, flatImg.Parent, "no parent")
	steps, err := s.History("flat")
	require.NoError(t, err)
	require.Len(t, steps, 1, "the history is gone")
	assert.Equal(t, flatImg.ID, steps[0].ID)
	assert.Equal(t, "Imported from -", steps[0].Comment)
	assert.Equal(t, flat(t, s, v2.ID), flat(t, s, flatImg.ID), "the same files")
}

func TestS34_SaveThenLoadKeepsLayersAndParentsSoOneCanRollBack(t *testing.T) {
	a := newStore(t)
	base := importBusybox(t, a, "busybox")
	v1, err := a.Commit(containerUpper(t, map[string]string{"state": "one"}), CommitOptions{Parent: base.ID, CreatedBy: "one"})
	require.NoError(t, err)
	v2, err := a.Commit(containerUpper(t, map[string]string{"state": "two"}), CommitOptions{Parent: v1.ID, Ref: "app:v2", CreatedBy: "two"})
	require.NoError(t, err)

	var saved bytes.Buffer
	require.NoError(t, a.Save(&saved, []string{"app:v2"}))
	var again bytes.Buffer
	require.NoError(t, a.Save(&again, []string{"app:v2"}))
	assert.Equal(t, saved.Bytes(), again.Bytes(), "save writes the same bytes every time")

	b := newStore(t)
	loaded, err := b.Load(bytes.NewReader(saved.Bytes()))
	require.NoError(t, err)
	require.Len(t, loaded, 3, "the image and its two ancestors")
	got, err := b.Get("app:v2")
	require.NoError(t, err)
	assert.Equal(t, v2.ID, got.ID, "same config bytes, same ID")
	assert.Equal(t, v1.ID, got.Parent)
	gotV1, err := b.Get(v1.ID.String())
	require.NoError(t, err)
	assert.Equal(t, base.ID, gotV1.Parent)
	assert.Equal(t, v2.Config.RootFS.DiffIDs, got.Config.RootFS.DiffIDs, "every layer")
	assert.Equal(t, 3, countEntries(t, filepath.Join(b.Dir(), "layers")))

	steps, err := b.History("app:v2")
	require.NoError(t, err)
	require.Len(t, steps, 3)
	assert.Equal(t, []Digest{v2.ID, v1.ID, base.ID}, []Digest{steps[0].ID, steps[1].ID, steps[2].ID})

	// Roll back: tag the ancestor by its ID.
	require.NoError(t, b.Tag(v1.ID.Short(), "app:rollback"))
	assert.Equal(t, "one", flat(t, b, v1.ID)["state"])
	rb, err := b.Get("app:rollback")
	require.NoError(t, err)
	assert.Equal(t, v1.ID, rb.ID)
}

func TestCommitWithoutALayerChangesOnlyTheConfig(t *testing.T) {
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	cfg := base.Config.Config
	require.NoError(t, ApplyChange(&cfg, "ENV GREETING=hi"))
	img, err := s.Commit("", CommitOptions{Parent: base.ID, Ref: "greet", Config: &cfg, CreatedBy: "ENV GREETING=hi"})
	require.NoError(t, err)
	assert.Equal(t, base.Config.RootFS.DiffIDs, img.Config.RootFS.DiffIDs, "no new layer")
	require.Len(t, img.Config.History, 2)
	assert.True(t, img.Config.History[1].EmptyLayer)
	assert.Contains(t, img.Config.Config.Env, "GREETING=hi")
	steps, err := s.History("greet")
	require.NoError(t, err)
	assert.Equal(t, []Digest{img.ID, base.ID}, []Digest{steps[0].ID, steps[1].ID})
	assert.Zero(t, steps[0].Size)
	_, err = s.Commit("", CommitOptions{})
	assert.Error(t, err, "an image of nothing")
}

func TestApplyChangeReadsDockerfileInstructions(t *testing.T) {
	var c ContainerConfig
	for _, ch := range []string{`CMD ["cat","/f"]`, `ENTRYPOINT /bin/run it`, `ENV A=1 B=2`, `ENV A 3`, `WORKDIR /srv`,
		`USER nobody:nogroup`, `LABEL a=b`, `EXPOSE 80 53/udp`, `STOPSIGNAL SIGINT`, `VOLUME ["/data"]`, `VOLUME /a /b`} {
		require.NoError(t, ApplyChange(&c, ch), ch)
	}
	assert.Equal(t, []string{"cat", "/f"}, c.Cmd)
	assert.Equal(t, []string{"/bin/sh", "-c", "/bin/run it"}, c.Entrypoint)
	assert.Equal(t, []string{"A=3", "B=2"}, c.Env)
	assert.Equal(t, "/srv", c.WorkingDir)
	assert.Equal(t, "nobody:nogroup", c.User)
	assert.Equal(t, map[string]string{"a": "b"}, c.Labels)
	assert.Equal(t, map[string]struct{}{"80/tcp": {}, "53/udp": {}}, c.ExposedPorts)
	assert.Equal(t, "SIGINT", c.StopSignal)
	assert.Equal(t, map[string]struct{}{"/data": {}, "/a": {}, "/b": {}}, c.Volumes)
	assert.Equal(t, []string{"/bin/sh", "-c", "/bin/run it", "x"}, c.Command([]string{"x"}))
	for _, bad := range []string{"RUN true", "WORKDIR rel", "CMD [broken", "ENV =x", "USER", "VOLUME", "VOLUME rel"} {
		assert.Error(t, ApplyChange(&c, bad), bad)
	}
}

// Writers in parallel (two Stores on one directory, as two processes
// would have) never leave an image whose layers are missing.
func TestConcurrentCommitsAndRemovalsKeepTheStoreConsistent(t *testing.T) {
	a := newStore(t)
	b, err := Open(a.Dir())
	require.NoError(t, err)
	base := importBusybox(t, a, "busybox")
	done := make(chan error, 2)
	for w, s := range []*Store{a, b} {
		go func() {
			for i := 0; i < 8; i++ {
				up := t.TempDir()
				if err := os.WriteFile(filepath.Join(up, "f"), []byte{byte(w), byte(i)}, 0o644); err != nil {
					done <- err
					return
				}
				ref := "app" + itoa(w) + ":" + itoa(i)
				if _, err := s.Commit(up, CommitOptions{Parent: base.ID, Ref: ref}); err != nil {
					done <- err
					return
				}
				if i%2 == 0 {
					if _, err := s.Remove(ref, false); err != nil {
						done <- err
						return
					}
				}
			}
			done <- nil
		}()
	}
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	images, err := a.Images()
	require.NoError(t, err)
	assert.Len(t, images, 1+8, "busybox and the 4 kept commits of each writer")
	for _, img := range images {
		dirs, err := a.LayerDirs(img.ID)
		require.NoError(t, err, "every image has all its layers")
		for _, d := range dirs {
			_, err := os.Stat(d)
			assert.NoError(t, err)
		}
	}
	assert.Equal(t, 1+8, countEntries(t, filepath.Join(a.Dir(), "layers")), "removed commits took their layers along")
	assert.Zero(t, countEntries(t, filepath.Join(a.Dir(), "leases")), "no session left over")
}
