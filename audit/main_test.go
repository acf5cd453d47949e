package audit

import (
	"testing"

	"go.uber.org/goleak"
)

// No test leaves a goroutine behind: a worker, a read of policies or a
// connection of a client that outlives its test would.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
