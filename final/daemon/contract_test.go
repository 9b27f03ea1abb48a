package daemon

import (
	"testing"

	"github.com/berth-project/berth/final/api/apitest/contract"
)

// TestContract runs the API's contract suite (final/api/apitest/contract)
// against berthd: the behaviours the fake is held to are the daemon's.
// One daemon serves every behaviour (each removes what it made, and the
// lab shows at the end that nothing of them is left).
func TestContract(t *testing.T) {
	l := newLab(t)
	contract.Run(t, func(*testing.T) contract.Target { return contract.Target{Socket: l.sock} })
}
