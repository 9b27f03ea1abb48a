package apitest_test

import (
	"testing"

	"github.com/berth-project/berth/final/api/apitest"
	"github.com/berth-project/berth/final/api/apitest/contract"
)

// TestContract holds the fake to the daemon's behaviours: a new fake for
// each (final/daemon's TestContract runs the same suite on berthd).
func TestContract(t *testing.T) {
	contract.Run(t, func(t *testing.T) contract.Target {
		return contract.Target{Socket: apitest.Serve(t, apitest.NewFake())}
	})
}
