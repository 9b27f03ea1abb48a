package cli

import (
	"errors"

	"github.com/berth-project/berth/final/detachkeys"
)

// DefaultDetachKeys is the key sequence that detaches from a container
// without stopping it, unless --detach-keys says otherwise.
const DefaultDetachKeys = detachkeys.Default

// errDetached ends an attachment when the user typed the detach keys. Its
// text is docker's.
var errDetached = errors.New("read escape sequence")
