package oracle

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// credentialReport asks moto for an account's credential report.
func credentialReport(ctx context.Context, t *testing.T, client *iam.Client) []byte {
	t.Helper()
	for range 20 {
		_, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		require.NoError(t, err, "generate the credential report")
		out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		if err == nil {
			return out.Content
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("moto returns no credential report")
	return nil
}

// offlinePlan: a scan of a downloaded credential report knows no key IDs,
// so its plans select the key by status and creation date. They are run
// as written too, with the account's credentials.
func offlinePlan(ctx context.Context, t *testing.T, o *org, bin, asOf string) {
	c := userCase{name: "offline-report", account: "member-b", user: "offline", keys: []keySeed{{active: true, used: true}}}
	account := o.accounts[c.account]
	o.keys[c.name] = o.seedUser(ctx, t, account, c)
	file := filepath.Join(t.TempDir(), "credential-report.csv")
	require.NoError(t, os.WriteFile(file, credentialReport(ctx, t, o.iam(account)), 0o600), "write the report")

	out, code := keyaudit(t, o.srv, moto.Management, bin, "scan", "--credential-report", file, "--format", "json", "--as-of", asOf)
	require.Equal(t, 0, code, "case %s: the offline scan is complete", c.name)
	var rep report
	require.NoError(t, json.Unmarshal(out, &rep), "case %s: the offline scan's JSON report parses", c.name)
	mine := actionsFor(rep.actions(), account, c.user)
	require.NotEmpty(t, mine, "case %s: the offline scan prints a plan for %s", c.name, c.user)
	var created []string
	for _, a := range mine {
		assert.Empty(t, a.KeyID, "case %s: %s names no key ID (the report has none)", c.name, a.label)
		checkedBeforeChange(t, a)
		ex := run(ctx, t, o.srv, o.creds[account], a, func(id string) { o.use(ctx, t, id) })
		for _, s := range ex.skipped {
			t.Logf("skipped %s", s)
		}
		created = append(created, ex.created...)
	}
	checkEndState(ctx, t, o, c, created)
}
