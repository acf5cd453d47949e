package pipeline_test

import (
	"testing"

	"go.uber.org/goleak"
)

// No test leaves a goroutine behind: an audit, a read of policies or a
// ranking that outlives its run would.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
