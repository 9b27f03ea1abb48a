package registry

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// verbose prints one line per request and one per response, with the
// headers that show the protocol at work. Authorization is shown by its
// scheme only ("Bearer …"): its value is a credential.
type verbose struct {
	inner http.RoundTripper
	mu    *sync.Mutex // the Client's: lines of every host, one at a time
	w     io.Writer
}

// teaching are the headers worth seeing, in the order printed.
var teaching = []string{"Accept", "Content-Type", "Content-Length", "Range", "Docker-Content-Digest", "Location", "WWW-Authenticate"}

func (v *verbose) RoundTrip(req *http.Request) (*http.Response, error) {
	line := "> " + req.Method + " " + redactURL(req.URL.String())
	if a := req.Header.Get("Authorization"); a != "" {
		scheme, _, _ := strings.Cut(a, " ")
		line += "  Authorization: " + scheme + " …"
	}
	line += headers(req.Header)
	v.print(line)
	resp, err := v.inner.RoundTrip(req)
	if err != nil {
		v.print(fmt.Sprintf("< %s %s: %v", req.Method, redactURL(req.URL.String()), err))
		return nil, err
	}
	h := resp.Header.Clone()
	if resp.ContentLength >= 0 && h.Get("Content-Length") == "" {
		h.Set("Content-Length", fmt.Sprint(resp.ContentLength))
	}
	v.print("< " + resp.Status + "  " + req.Method + " " + redactURL(req.URL.String()) + headers(h))
	return resp, nil
}

func (v *verbose) print(line string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fmt.Fprintln(v.w, line)
}

func headers(h http.Header) string {
	var b strings.Builder
	for _, k := range teaching {
		for _, val := range h.Values(k) {
			b.WriteString("  " + k + ": " + val)
		}
	}
	return b.String()
}

// redactURL hides a password in a URL's query (a token server's oauth
// form never goes in a URL; a misconfigured realm might).
func redactURL(u string) string {
	if i := strings.Index(u, "password="); i >= 0 {
		j := strings.IndexByte(u[i:], '&')
		if j < 0 {
			return u[:i] + "password=***"
		}
		return u[:i] + "password=***" + u[i+j:]
	}
	return u
}
