package registry

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// regError is an error in dockerd's words that errors.Is matches against
// one of the package's sentinels (and against its cause).
type regError struct {
	kind  error
	msg   string
	cause error
}

func (e *regError) Error() string { return e.msg }
func (e *regError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func newError(kind error, msg string, cause error) error {
	return &regError{kind: kind, msg: msg, cause: cause}
}

// registryMessage is what a registry said, as dockerd prints its errors:
// "manifest unknown: manifest unknown" (the code in words, then the
// message), or the HTTP status when the body said nothing.
func registryMessage(err error) string {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err.Error()
	}
	var parts []string
	for _, d := range te.Errors {
		code := strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
		if d.Message == "" {
			parts = append(parts, code)
			continue
		}
		parts = append(parts, code+": "+d.Message)
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	if te.StatusCode == http.StatusUnauthorized {
		return "unauthorized: authentication required"
	}
	return te.Error()
}

// hasCode says whether a registry's error carries one of codes.
func hasCode(err error, codes ...transport.ErrorCode) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

// isUnauthorized: the registry wants credentials, or other ones.
func isUnauthorized(err error) bool {
	return statusOf(err) == http.StatusUnauthorized || statusOf(err) == http.StatusForbidden ||
		hasCode(err, transport.UnauthorizedErrorCode, transport.DeniedErrorCode)
}

// pullError says what went wrong fetching a manifest, as dockerd does.
func pullError(familiar, ref string, err error) error {
	switch {
	case hasCode(err, transport.NameUnknownErrorCode):
		return newError(ErrNotFound, "repository "+familiar+" not found: "+registryMessage(err), err)
	case hasCode(err, transport.ManifestUnknownErrorCode) || statusOf(err) == http.StatusNotFound:
		return newError(ErrNotFound, "manifest for "+ref+" not found: "+registryMessage(err), err)
	case isUnauthorized(err):
		return newError(ErrUnauthorized, "pull access denied for "+familiar+", repository does not exist or may require 'docker login': "+registryMessage(err), err)
	}
	return newError(err, registryMessage(err), nil)
}
