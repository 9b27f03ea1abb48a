package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func testContainers() []psRow {
	return []psRow{
		{c: container.Summary{
			ID:      "4f2a6c1d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f",
			Names:   []string{"/web"},
			Image:   "busybox",
			Command: "httpd -f -p 80 -h /www",
			Created: testNow.Add(-3 * time.Second).Unix(),
			Ports: []container.PortSummary{
				{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
			},
			State:  container.StateRunning,
			Status: "Up 3 seconds",
			Labels: map[string]string{"tier": "front", "app": "demo"},
		}, trunc: true, now: testNow},
		{c: container.Summary{
			ID:      "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
			Names:   []string{"/old"},
			Image:   "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
			Command: "true",
			Created: testNow.Add(-2 * time.Minute).Unix(),
			State:   container.StateExited,
			Status:  "Exited (0) 2 minutes ago",
		}, trunc: true, now: testNow},
	}
}

func TestPsDefaultTable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeFormatted(&out, "", defaultPsFormat, psHeaders, testContainers()))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	// docker's columns, aligned with 3 spaces of padding.
	assert.Regexp(t, `^CONTAINER ID   IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$`, lines[0])
	assert.Regexp(t, `^4f2a6c1d9e8b   busybox +"httpd -f -p 80 -h /…"   3 seconds ago +Up 3 seconds +0\.0\.0\.0:8080->80/tcp   web$`, lines[1])
	assert.Regexp(t, `^9b8a7c6d5e4f   1234567890ab +"true" +2 minutes ago +Exited \(0\) 2 minutes ago +old$`, lines[2])
	// Columns line up: each header starts where its values do.
	col := strings.Index(lines[0], "NAMES") // the header is ASCII: bytes are cells
	assert.Equal(t, "web", string([]rune(lines[1])[col:]))
	assert.Equal(t, "old", string([]rune(lines[2])[col:]))
}

func TestPsCustomFormats(t *testing.T) {
	rows := testContainers()
	var out bytes.Buffer
	require.NoError(t, writeFormatted(&out, "{{.ID}} {{.Names}}", defaultPsFormat, psHeaders, rows))
	assert.Equal(t, "4f2a6c1d9e8b web\n9b8a7c6d5e4f old\n", out.String(), "no header without table")

	out.Reset()
	require.NoError(t, writeFormatted(&out, `table {{.Names}}\t{{.State}}`, defaultPsFormat, psHeaders, rows))
	assert.Equal(t, "NAMES     STATE\nweb       running\nold       exited\n", out.String(), `"\t" typed as two characters`)

	out.Reset()
	require.NoError(t, writeFormatted(&out, `table {{upper .Names}}\t{{.Label "tier"}}\t{{json .Labels}}`, defaultPsFormat, psHeaders, rows[:1]))
	lines := strings.Split(out.String(), "\n")
	assert.Regexp(t, `^NAMES +tier +LABELS$`, lines[0], "header functions leave headers alone; a label column is titled by its name, as in docker")
	assert.Regexp(t, `^WEB +front +"app=demo,tier=front"$`, lines[1])

	out.Reset()
	require.NoError(t, writeFormatted(&out, "table", defaultPsFormat, psHeaders, rows[:0]))
	assert.Regexp(t, `^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\n$`, out.String(), "an empty list still has its header")

	out.Reset()
	require.NoError(t, writeFormatted(&out, `{{join (split .Names ",") "+"}}|{{pad .State 1 1}}|{{truncate .ID 4}}|{{title "a b"}}|{{lower "X"}}`, defaultPsFormat, psHeaders, rows[:1]))
	assert.Equal(t, "web| running |4f2a|A B|x\n", out.String())

	assert.Error(t, writeFormatted(&out, "{{.Nope}}", defaultPsFormat, psHeaders, rows))
	assert.ErrorContains(t, writeFormatted(&out, "{{.ID", defaultPsFormat, psHeaders, rows), "template parsing error")
}

func TestPsJSONFormat(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeFormatted(&out, "json", defaultPsFormat, psHeaders, testContainers()))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	var obj map[string]string
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &obj))
	assert.Equal(t, "4f2a6c1d9e8b", obj["ID"])
	assert.Equal(t, "web", obj["Names"])
	assert.Equal(t, "running", obj["State"])
	assert.Equal(t, "Up 3 seconds", obj["Status"])
	assert.Equal(t, "0.0.0.0:8080->80/tcp", obj["Ports"])
	assert.Equal(t, `"httpd -f -p 80 -h /…"`, obj["Command"])
	assert.NotContains(t, obj, "Label", "methods with arguments are not fields")
}

func TestPsRowFields(t *testing.T) {
	r := psRow{c: container.Summary{
		ID:    strings.Repeat("a", 64),
		Names: []string{"/web", "/other/alias"},
		Mounts: []container.MountPoint{
			{Name: "", Source: "/very/long/host/path/to/data"},
			{Name: "vol"},
		},
		SizeRw: 1200, SizeRootFs: 4_200_000,
		NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"bridge": {}, "alpha": {}}},
	}, trunc: true, now: testNow}
	assert.Equal(t, "web", r.Names(), "link names are hidden")
	assert.Equal(t, "/very/long/hos…,vol", r.Mounts())
	assert.Equal(t, "1.2kB (virtual 4.2MB)", r.Size())
	assert.Equal(t, "alpha,bridge", r.Networks())
	r.trunc = false
	assert.Equal(t, strings.Repeat("a", 64), r.ID())
}

func TestDisplayPorts(t *testing.T) {
	any4 := netip.MustParseAddr("0.0.0.0")
	any6 := netip.MustParseAddr("::")
	ports := []container.PortSummary{
		{IP: any6, PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
		{IP: any4, PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
		{IP: any4, PrivatePort: 81, PublicPort: 8081, Type: "tcp"},
		{IP: any4, PrivatePort: 53, PublicPort: 53, Type: "udp"},
		{IP: any4, PrivatePort: 7000, PublicPort: 7000, Type: "tcp"},
		{IP: any4, PrivatePort: 7001, PublicPort: 7001, Type: "tcp"},
		{PrivatePort: 9000, Type: "tcp"},
		{PrivatePort: 9001, Type: "tcp"},
		{PrivatePort: 9003, Type: "tcp"},
	}
	// docker's order: groups closed early (9000-9001, when 9003 came), then
	// the open groups in the order they began, then the other mappings.
	assert.Equal(t, "9000-9001/tcp, 0.0.0.0:53->53/udp, 0.0.0.0:7000-7001->7000-7001/tcp, 9003/tcp, "+
		"0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 0.0.0.0:8081->81/tcp", displayPorts(ports))
	assert.Equal(t, "", displayPorts(nil))
}

func TestHumanUnits(t *testing.T) {
	assert.Equal(t, "1.2MB", humanSize(1_200_000))
	assert.Equal(t, "4.26MB", humanSize(4_264_000))
	assert.Equal(t, "0B", humanSize(0))
	assert.Equal(t, "512B", humanSize(512))
	assert.Equal(t, "3 seconds ago", timeAgo(testNow.Add(-3*time.Second), testNow))
	assert.Equal(t, "2 minutes ago", timeAgo(testNow.Add(-2*time.Minute), testNow))
	assert.Equal(t, "About an hour ago", timeAgo(testNow.Add(-time.Hour), testNow))
	assert.Equal(t, "1234567890ab", truncateID("sha256:1234567890abcdef"))
	assert.Equal(t, "abc", truncateID("abc"))
	assert.Equal(t, "hello…", ellipsis("hello world", 6))
	assert.Equal(t, "short", ellipsis("short", 6))
}

func TestImagesTable(t *testing.T) {
	images := []image.Summary{
		{ID: "sha256:aaaaaaaaaaaa1111", RepoTags: []string{"busybox:latest", "busybox:1.36"}, Created: testNow.Add(-48 * time.Hour).Unix(), Size: 4_264_000},
		{ID: "sha256:bbbbbbbbbbbb2222", Created: testNow.Add(-90 * time.Second).Unix(), Size: 1200},
		{ID: "sha256:cccccccccccc3333", RepoTags: []string{"localhost:5000/app:v1"}, RepoDigests: []string{"localhost:5000/app@sha256:dddd"}, Created: testNow.Unix()},
	}
	rows := imageRows(images, true, testNow)
	var out bytes.Buffer
	require.NoError(t, writeFormatted(&out, "", defaultImagesFormat, imagesHeaders, rows))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 5)
	assert.Regexp(t, `^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$`, lines[0])
	assert.Regexp(t, `^busybox +latest +aaaaaaaaaaaa +2 days ago +4\.26MB$`, lines[1])
	assert.Regexp(t, `^busybox +1\.36 +aaaaaaaaaaaa +2 days ago +4\.26MB$`, lines[2])
	assert.Regexp(t, `^<none> +<none> +bbbbbbbbbbbb +About a minute ago +1\.2kB$`, lines[3])
	assert.Regexp(t, `^localhost:5000/app +v1 +cccccccccccc +Less than a second ago +0B$`, lines[4])
	assert.Equal(t, "sha256:dddd", rows[3].Digest())
}

func TestHistoryRows(t *testing.T) {
	items := []image.HistoryResponseItem{
		{ID: "sha256:aaaaaaaaaaaa1111", Created: testNow.Add(-time.Minute).Unix(), CreatedBy: "/bin/sh -c #(nop)\tCMD [\"sh\"] and a lot more text after it", Size: 0, Comment: "c"},
		{ID: "<missing>", Created: testNow.Add(-48 * time.Hour).Unix(), CreatedBy: "ADD rootfs.tar /", Size: 4_264_000},
	}
	var rows []historyRow
	for _, h := range items {
		rows = append(rows, historyRow{h: h, human: true, trunc: true, now: testNow})
	}
	var out bytes.Buffer
	require.NoError(t, writeFormatted(&out, "", defaultHistoryFormat, historyHeaders, rows))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	assert.Regexp(t, `^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$`, lines[0])
	assert.Regexp(t, `^aaaaaaaaaaaa +About a minute ago +/bin/sh -c #\(nop\) CMD \["sh"\] and a lot more … +0B +c$`, lines[1])
	assert.Regexp(t, `^<missing> +2 days ago +ADD rootfs.tar / +4\.26MB +$`, lines[2])

	rows[1].human = false
	assert.Equal(t, "4264000", rows[1].Size())
	assert.Equal(t, testNow.Add(-48*time.Hour).Local().Format(time.RFC3339), rows[1].CreatedSince())
}
