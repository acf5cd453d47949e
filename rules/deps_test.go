package rules

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules and the model they judge know nothing of AWS: not by
// discipline but by imports. No AWS service SDK may be a dependency.
func TestNoAWSServiceSDK(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	for _, pkg := range []string{"github.com/keyaudit/keyaudit/rules", "github.com/keyaudit/keyaudit/audit/inventory"} {
		out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, "go list -deps %s: %s", pkg, out)
		deps := strings.Fields(string(out))
		require.Contains(t, deps, pkg, "go list printed no dependencies for %s", pkg)
		for _, d := range deps {
			assert.False(t, strings.HasPrefix(d, "github.com/aws/aws-sdk-go-v2/service"), "%s depends on %s", pkg, d)
		}
	}
}
