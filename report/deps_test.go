package report_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// report is the model, the diff and the writers: it reaches no AWS
// service and no Slack (sending is internal/deliver's), so a program that
// only reads or writes reports does not link their SDKs.
func TestReportReachesNoSender(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err, "go list -deps ./report")
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/keyaudit/keyaudit/rules", "the dependencies listed")
	for _, dep := range deps {
		assert.NotContains(t, dep, "github.com/aws/aws-sdk-go-v2/service/", "report depends on an AWS service SDK")
		assert.NotContains(t, dep, "github.com/slack-go/", "report depends on slack-go")
	}
}
