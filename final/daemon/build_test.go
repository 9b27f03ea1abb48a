package daemon

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/registry/registrytest"
)

// appContext is a build context: an application, a file .dockerignore
// leaves out, and a tar that ADD unpacks.
func appContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "seed.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5}))
	_, err := tw.Write([]byte("seed\n"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	writeDir(t, dir, map[string]string{
		"Dockerfile": `FROM busybox
ARG GREETING=hello
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY app/ ./
ADD data.tar /data/
RUN echo "$GREETING from RUN" | tee /app/built.txt && chmod +x /app/run.sh
EXPOSE 8080
LABEL org.example.course=berth
USER nobody
CMD ["/app/run.sh"]
`,
		"app/run.sh":     "#!/bin/sh\necho \"$(cat /app/built.txt) as $(id -u) in $(pwd); seed: $(cat /data/seed.txt)\"\n",
		"app/secret.log": "must not be in the image",
		".dockerignore":  "**/*.log\n",
		"data.tar":       data.String(),
	})
	return dir
}

func TestS5_ADockerfileBuildsAWholeImageAndTheRebuildComesFromTheCache(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	dir := appContext(t)

	stdout, stderr, code := e.docker(nil, "build", "-t", "app:1", "--build-arg", "GREETING=hi", dir)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "Step 1/11 : FROM busybox\n")
	assert.Contains(t, stdout, "Step 7/11 : RUN echo \"$GREETING from RUN\" | tee /app/built.txt && chmod +x /app/run.sh\n ---> Running in ")
	assert.Contains(t, stdout, "hi from RUN\n", "RUN's output is streamed")
	assert.Contains(t, stdout, "Removing intermediate container ")
	assert.Contains(t, stdout, "Successfully tagged app:1\n")
	id := mustInspect(t, e, "app:1").ID
	assert.Contains(t, stdout, "Successfully built "+id[7:19]+"\n")

	// The whole image: files, unpacked archive, config, user.
	assert.Equal(t, "hi from RUN as 65534 in /app; seed: seed\n", e.runImage("app:1"))
	assert.Equal(t, "absent\n", e.runImage("app:1", "sh", "-c", "test -e /app/secret.log || echo absent"), ".dockerignore was honoured")
	info := mustInspect(t, e, "app:1")
	assert.Equal(t, "nobody", info.Config.User)
	assert.Equal(t, "/app", info.Config.WorkingDir)
	assert.Contains(t, info.Config.Env, "APP_HOME=/app")
	assert.NotContains(t, strings.Join(info.Config.Env, " "), "GREETING", "a build argument does not stay")
	assert.Contains(t, info.Config.ExposedPorts, "8080/tcp")
	assert.Equal(t, "berth", info.Config.Labels["org.example.course"])
	assert.Len(t, info.RootFS.Layers, 4, "busybox, and one layer per COPY, ADD and RUN")

	// Every step is in the history, with the image it made.
	hist, err := e.client.ImageHistory(ctxFor(t), "app:1")
	require.NoError(t, err)
	require.Len(t, hist.Items, 11)
	assert.Equal(t, "/bin/sh -c #(nop) CMD [\"/app/run.sh\"]", hist.Items[0].CreatedBy)
	assert.Equal(t, "|1 GREETING=hi /bin/sh -c echo \"$GREETING from RUN\" | tee /app/built.txt && chmod +x /app/run.sh", hist.Items[4].CreatedBy)
	for _, h := range hist.Items {
		assert.NotEqual(t, "<missing>", h.ID, "every step's image is known: %s", h.CreatedBy)
	}
	// The intermediate images are hidden from `images`, shown by -a.
	list, err := e.client.ImageList(ctxFor(t), client.ImageListOptions{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 2)
	all, err := e.client.ImageList(ctxFor(t), client.ImageListOptions{All: true})
	require.NoError(t, err)
	assert.Len(t, all.Items, 11, "busybox and one image per step after FROM")
	stdout, _, code = e.docker(nil, "images", "-a", "--format", "{{.Repository}}:{{.Tag}}")
	require.Equal(t, 0, code)
	assert.Equal(t, 9, strings.Count(stdout, "<none>:<none>\n"), "the docker client shows the intermediate images with -a: %s", stdout)

	// The rebuild: every step from the cache, the same image.
	stdout, stderr, code = e.docker(nil, "build", "-t", "app:1", "--build-arg", "GREETING=hi", dir)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 10, strings.Count(stdout, " ---> Using cache\n"), stdout)
	assert.NotContains(t, stdout, "Running in")
	assert.Contains(t, stdout, "Successfully built "+id[7:19]+"\n")

	// A changed file: the steps before its COPY are cached, the rest done again.
	writeDir(t, dir, map[string]string{"app/run.sh": "#!/bin/sh\necho changed\n"})
	stdout, stderr, code = e.docker(nil, "build", "-t", "app:2", "--build-arg", "GREETING=hi", dir)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 3, strings.Count(stdout, " ---> Using cache\n"), stdout)
	assert.Equal(t, "changed\n", e.runImage("app:2"))

	// Nothing of the builds is left behind: no container, no scratch.
	ids, err := layer.List(e.root)
	require.NoError(t, err)
	assert.Empty(t, ids, "the RUN containers were removed")
	assert.Equal(t, 0, countDir(t, filepath.Join(e.root, "builder", "running")))
	assert.Equal(t, 0, countDir(t, filepath.Join(e.root, "builder", "tmp")))
	assert.Equal(t, 0, countDir(t, filepath.Join(e.root, "images", "leases")))
}

func TestS6_ADockerfileStartsFromAnImageBuiltBefore(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	_, stderr, code := e.docker(nil, "build", "-t", "app:1", appContext(t))
	require.Equal(t, 0, code, stderr)
	base := mustInspect(t, e, "app:1")

	// A second Dockerfile, shared as a file, builds on the first image:
	// sent by the moby client to POST /build, as any program may.
	ctxTar := contextTar(t, map[string]string{"Dockerfile": "FROM app:1\nUSER root\nRUN echo extended >> /app/built.txt\nCMD [\"cat\", \"/app/built.txt\"]\n"})
	res, err := e.client.ImageBuild(ctxFor(t), ctxTar, client.ImageBuildOptions{Tags: []string{"app:extended"}, Remove: true})
	require.NoError(t, err)
	msgs := readMessages(t, res.Body)
	res.Body.Close()
	text, errMsg := streamText(msgs)
	require.Empty(t, errMsg, text)
	assert.Contains(t, text, "Step 1/4 : FROM app:1\n ---> "+base.ID[7:19]+"\n")
	var auxID string
	for _, m := range msgs {
		if aux, ok := m.Aux.(map[string]any); ok {
			auxID, _ = aux["ID"].(string)
		}
	}
	ext := mustInspect(t, e, "app:extended")
	assert.Equal(t, ext.ID, auxID, "the image's ID comes as the aux message, as docker build --iidfile reads it")
	assert.Equal(t, "hello from RUN\nextended\n", e.runImage("app:extended"))
	assert.Equal(t, base.RootFS.Layers, ext.RootFS.Layers[:len(base.RootFS.Layers)], "the new image is the old one's layers plus its own")
	hist, err := e.client.ImageHistory(ctxFor(t), "app:extended")
	require.NoError(t, err)
	var ids []string
	for _, h := range hist.Items {
		ids = append(ids, h.ID)
	}
	assert.Contains(t, ids, base.ID, "the history goes through the base image")
}

func TestBuildErrorsNameTheLineAndLeaveNothingBehind(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	dir := t.TempDir()
	writeDir(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN true\nFORM x\n"})
	_, stderr, code := e.docker(nil, "build", dir)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "Dockerfile:3: unknown instruction: FORM")

	writeDir(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo before && false\nRUN echo never\n"})
	stdout, stderr, code := e.docker(nil, "build", "-t", "broken", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "before\n")
	assert.NotContains(t, stdout, "Step 3/3")
	assert.Contains(t, stderr, "The command '/bin/sh -c echo before && false' returned a non-zero code: 1")
	_, err := e.client.ImageInspect(ctxFor(t), "broken")
	assert.Error(t, err, "no image is tagged")

	writeDir(t, dir, map[string]string{"Dockerfile": "FROM busybox\nCOPY missing.txt /\n"})
	_, stderr, code = e.docker(nil, "build", dir)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "Dockerfile:2: COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist")

	writeDir(t, dir, map[string]string{"Dockerfile": "FROM busybox\nADD https://example.com/file /\n"})
	_, stderr, code = e.docker(nil, "build", dir)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "ADD from a URL is not supported: no network")

	// A FROM the store does not have is pulled, as dockerd does: from
	// a registry on loopback that does not have it either (a test
	// never reaches Docker Hub).
	reg := registrytest.Start(t, registrytest.Options{})
	missing := reg.Ref("nosuch:image")
	writeDir(t, dir, map[string]string{"Dockerfile": "FROM " + missing + "\n"})
	_, stderr, code = e.docker(nil, "build", dir)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "Dockerfile:1: FROM "+missing+": manifest for "+missing+" not found")

	ids, err := layer.List(e.root)
	require.NoError(t, err)
	assert.Empty(t, ids, "a failed RUN's container is removed too")
	assert.Equal(t, 0, countDir(t, filepath.Join(e.root, "builder", "running")))
	assert.Equal(t, 0, countDir(t, filepath.Join(e.root, "images", "leases")))
}

func TestBuildHonoursDockerignoreWhateverTheClientSends(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	// A client that sends everything: the daemon applies .dockerignore.
	ctxTar := contextTar(t, map[string]string{
		"Dockerfile":      "FROM busybox\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n",
		".dockerignore":   "*.log\nbuild/\n!build/keep\n.dockerignore\n",
		"main.go":         "package main",
		"debug.log":       "x",
		"build/out":       "x",
		"build/keep":      "kept",
		"sub/nested.log":  "not matched by *.log at the top",
		"sub/nested.conf": "y",
	})
	res, err := e.client.ImageBuild(ctxFor(t), ctxTar, client.ImageBuildOptions{Tags: []string{"ctx:1"}})
	require.NoError(t, err)
	text, errMsg := streamText(readMessages(t, res.Body))
	res.Body.Close()
	require.Empty(t, errMsg, text)
	assert.Contains(t, text, "/ctx/Dockerfile\n/ctx/build/keep\n/ctx/main.go\n/ctx/sub/nested.conf\n/ctx/sub/nested.log\n")
}

func TestBuildRunsOffline(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	ctxTar := contextTar(t, map[string]string{"Dockerfile": "FROM busybox\nRUN ls /sys/class/net\n"})
	res, err := e.client.ImageBuild(ctxFor(t), ctxTar, client.ImageBuildOptions{NetworkMode: "host"})
	require.NoError(t, err)
	text, errMsg := streamText(readMessages(t, res.Body))
	res.Body.Close()
	require.Empty(t, errMsg, text)
	assert.Contains(t, text, " ---> Running in ")
	assert.Contains(t, text, "\nlo\n", "only a loopback interface, whatever --network says")
	assert.NotContains(t, text, "eth0")
}

func TestBuildFromStdinDockerfile(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	stdout, stderr, code := e.docker(bytes.NewBufferString("FROM busybox\nRUN echo from stdin > /f\n"), "build", "-t", "stdin:1", "-")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "Successfully tagged stdin:1")
	assert.Equal(t, "from stdin\n", e.runImage("stdin:1", "cat", "/f"))
}

func TestBuildRunTakesTheImagesUserWorkdirAndEnvironment(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	dir := t.TempDir()
	writeDir(t, dir, map[string]string{
		"Dockerfile.dev": "FROM busybox\nENV A=from-env\nARG B=from-arg\nWORKDIR /w\nUSER nobody\nRUN echo \"$A $B $(pwd) $(id -u)\"\n",
	})
	stdout, stderr, code := e.docker(nil, "build", "-f", filepath.Join(dir, "Dockerfile.dev"), "-t", "user:1", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "\nfrom-env from-arg /w 65534\n", "RUN runs as the image's USER, in its WORKDIR, with ENV and ARG")
	assert.Equal(t, "/w\n", e.runImage("user:1", "pwd"), "WORKDIR is created for the containers of the image")
}
