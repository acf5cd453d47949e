package audit

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simConfig starts awssim on w and returns a configuration acting as
// account, with keyaudit's retry policy.
func simConfig(t *testing.T, w *awssim.World, account string, opts ...awssim.Option) (*awssim.Server, aws.Config) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := awssim.NewServer(w, opts...)
	t.Cleanup(srv.Close)
	cfg, err := srv.AWSConfig(context.Background(), account, "us-east-1")
	require.NoError(t, err)
	cfg.Retryer = Retryer
	return srv, cfg
}

func days(d float64) *float64 { return &d }

// whois on a root key names the root user and does not describe an IAM
// user called "root" instead; that user's own keys are still its own.
func TestDescribeRootKey(t *testing.T) {
	const id = "444444444444"
	w := &awssim.World{Accounts: []awssim.Account{{ID: id, Name: "prod", CreatedDaysAgo: 900,
		Root: awssim.Root{Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 300, LastUsedDaysAgo: days(2), LastUsedService: "s3", LastUsedRegion: "eu-west-1"}}},
		Users: []awssim.User{
			{Name: "root", CreatedDaysAgo: 100, Keys: []awssim.Key{{Status: "Inactive", CreatedDaysAgo: 50}}},
			{Name: "ci", CreatedDaysAgo: 100, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 20}}},
		}}}}
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	_, cfg := simConfig(t, w, id, awssim.WithClock(func() time.Time { return now }))
	client := iam.NewFromConfig(cfg)
	acct := w.Accounts[0]

	tests := []struct {
		name          string
		keyID         string
		principal     string
		active        bool
		statusUnknown bool
		created       time.Time
	}{
		{"root key", acct.Root.Keys[0].ID, inventory.RootName, true, true, time.Time{}},
		{"key of an IAM user named root", acct.Users[0].Keys[0].ID, "root", false, false, now.AddDate(0, 0, -50)},
		{"IAM user key", acct.Users[1].Keys[0].ID, "ci", true, false, now.AddDate(0, 0, -20)},
	}
	for _, tt := range tests {
		s := &inventory.Sighting{AccessKeyID: tt.keyID, OwnerAccount: id}
		require.NoError(t, Describe(context.Background(), client, s), "case %s", tt.name)
		assert.Equal(t, tt.principal, s.Principal, "case %s", tt.name)
		require.NotNil(t, s.Key, "case %s", tt.name)
		assert.Equal(t, tt.active, s.Key.Active, "case %s", tt.name)
		assert.Equal(t, tt.statusUnknown, s.Key.StatusUnknown, "case %s", tt.name)
		assert.Equal(t, tt.created, s.Key.CreatedAt, "case %s", tt.name)
		assert.True(t, s.Key.LastUsed.Known, "case %s", tt.name)
	}
	rootUse := inventory.LastUse{Known: true, At: now.AddDate(0, 0, -2), Service: "s3", Region: "eu-west-1", Confirmed: true}
	s := &inventory.Sighting{AccessKeyID: acct.Root.Keys[0].ID, OwnerAccount: id}
	require.NoError(t, Describe(context.Background(), client, s))
	assert.Equal(t, rootUse, s.Key.LastUsed, "root key's last use")
}

// In an account without an IAM user called root, IAM answers NoSuchEntity
// for that name: the key is still the root user's, not an error.
func TestDescribeRootKeyWithoutUserNamedRoot(t *testing.T) {
	const id = "555555555555"
	w := &awssim.World{Accounts: []awssim.Account{{ID: id, Name: "dev", CreatedDaysAgo: 900,
		Root: awssim.Root{Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 300}}}}}}
	_, cfg := simConfig(t, w, id)
	s := &inventory.Sighting{AccessKeyID: w.Accounts[0].Root.Keys[0].ID, OwnerAccount: id}
	require.NoError(t, Describe(context.Background(), iam.NewFromConfig(cfg), s))
	assert.Equal(t, inventory.RootName, s.Principal)
	require.NotNil(t, s.Key)
	assert.True(t, s.Key.LastUsed.Never, "the root key was never used")
}
