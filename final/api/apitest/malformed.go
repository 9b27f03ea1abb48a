package apitest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/berth-project/berth/final/api"
)

// Malformed is a request that the API must refuse with Want (a 4xx) and
// a message, whatever the backend: the fake and berthd are both tested
// with MalformedRequests.
type Malformed struct {
	Method, Path, Body string
	Want               int
}

// MalformedRequests are malformed requests to every endpoint that takes
// a JSON body, or a query of a given type, aimed at container id (which
// must exist): bodies that are not JSON, of the wrong types, or over the
// server's limit; query parameters of the wrong type; a query over Go's
// header limit (1 MiB: filters and build arguments travel in the URL),
// which the HTTP server refuses itself with a 431.
func MalformedRequests(id string) []Malformed {
	var out []Malformed
	huge := `{"X":"` + strings.Repeat("x", api.DefaultMaxBodySize) + `"}`
	for _, path := range []string{
		"/containers/create", "/containers/" + id + "/exec", "/commit?container=" + id,
		"/volumes/create", "/networks/create", "/networks/bridge/connect", "/networks/bridge/disconnect",
	} {
		for _, b := range []string{`{`, `[1,2]`, `"a string"`, `{"Cmd":5,"Name":5,"Container":5,"Env":"x","Labels":[],"Memory":"1g"}`} {
			out = append(out, Malformed{http.MethodPost, path, b, http.StatusBadRequest})
		}
		out = append(out, Malformed{http.MethodPost, path, huge, http.StatusRequestEntityTooLarge})
	}
	for _, path := range []string{
		"/containers/json?filters=" + url.QueryEscape(`{"status":5}`),
		"/containers/json?filters=not-json",
		"/containers/json?limit=many",
		"/images/json?filters=" + url.QueryEscape(`["a"]`),
		"/containers/" + id + "/logs?stdout=1&tail=lots",
	} {
		out = append(out, Malformed{http.MethodGet, path, "", http.StatusBadRequest})
	}
	out = append(out,
		Malformed{http.MethodPost, "/containers/" + id + "/stop?t=soon", "", http.StatusBadRequest},
		Malformed{http.MethodGet, "/containers/json?filters=" + strings.Repeat("a", 2<<20), "", http.StatusRequestHeaderFieldsTooLarge},
	)
	return out
}
