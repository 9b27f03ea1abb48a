package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
)

// FuzzContainerCreate sends any body and name to POST /containers/create
// (decoding and validating the request, with the fake backend): the
// answer is a 201 or a 4xx with a message, never a 500 or a panic.
func FuzzContainerCreate(f *testing.F) {
	for _, c := range []struct{ name, body string }{
		{"", `{"Image":"busybox","Cmd":["true"]}`},
		{"web", `{"Image":"busybox","Cmd":["sh"],"HostConfig":{"Memory":1048576,"Binds":["/tmp:/x:ro"]}}`},
		{"../x", `{"Image":"busybox"}`},
		{"a/b", `{"Image":"busybox"}`},
		{"..", `{"Image":"busybox"}`},
		{"ok", `{"Image":"busybox","MacAddress":"02:42:ac:11:00:02"}`},
		{"ok", `{"Image":"busybox","MacAddress":"zz"}`},
		{"ok", `{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"bridge":{"IPAMConfig":{"IPv4Address":"300.1.1.1"}}}}}`},
		{"ok", `{"Image":"busybox","ExposedPorts":{"80/tcp":{}},"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"x"}]}}}`},
		{"ok", `{"Image":5}`}, {"ok", `{`}, {"ok", `null`}, {"ok", `[]`}, {"ok", ``},
		{"ok", `{"Image":"busybox","Cmd":"notalist"}`}, {"ok", `{"Image":"busybox","HostConfig":{"Memory":"1g"}}`},
	} {
		f.Add(c.name, []byte(c.body))
	}
	srv := api.NewServer(apitest.NewFake(), api.Options{Version: "test"})
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/containers/create?name="+url.QueryEscape(name), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("name %q, body %q: %d %s", name, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !bytes.Contains(rec.Body.Bytes(), []byte(`"message"`)) {
			t.Fatalf("name %q, body %q: %d without a message: %s", name, body, rec.Code, rec.Body.String())
		}
	})
}
