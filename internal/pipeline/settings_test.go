package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var cliNames = pipeline.Names{Accounts: "--accounts", AccountsFile: "--accounts-file", Exclude: "--exclude-accounts", Org: "--org",
	Concurrency: "--concurrency", ExternalID: "--external-id", TrailDays: "--trail-days", Timeout: "--timeout",
	AsOf: "--as-of", Region: "--region"}

// settings are valid settings of a run over accounts, as an entrypoint
// would translate them.
func settings(accounts ...string) pipeline.Settings {
	return pipeline.Settings{Names: cliNames, RunID: "test", Started: asOf, Config: rules.Defaults(), Concurrency: 1, Accounts: accounts}
}

// An account given twice is audited once: the report of [A, A] is the
// report of [A].
func TestLiveAuditsARepeatedAccountOnce(t *testing.T) {
	w := world(t, nil)
	run := func(accounts ...string) (accts, findings int) {
		s := settings(accounts...)
		require.NoError(t, s.Validate(), "validate %v", accounts)
		_, conn := dial(t, w, s.Selection())
		opts := options()
		opts.Settings = s
		r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)
		return len(r.Accounts), len(r.Findings)
	}
	onceAccounts, onceFindings := run("222222222222")
	require.Equal(t, 1, onceAccounts, "accounts audited for one ID")
	require.Positive(t, onceFindings, "the account has findings")
	twiceAccounts, twiceFindings := run("222222222222", "222222222222")
	assert.Equal(t, onceAccounts, twiceAccounts, "accounts audited for one ID given twice")
	assert.Equal(t, onceFindings, twiceFindings, "findings for one ID given twice")
	listAccounts, _ := run("222222222222, 222222222222")
	assert.Equal(t, onceAccounts, listAccounts, "accounts audited for one ID given twice in a list")
}

func TestSettingsValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.txt")
	require.NoError(t, os.WriteFile(file, []byte("# audited nightly\n333333333333 shared services\n222222222222 payments\n"), 0o600), "write the accounts file")
	s := settings("222222222222", "111111111111,222222222222")
	s.AccountsFile = file
	s.Exclude = []string{"444444444444, 555555555555"}
	require.NoError(t, s.Validate(), "valid settings")
	sel := s.Selection()
	var ids, names []string
	for _, tg := range sel.Accounts {
		ids, names = append(ids, tg.AccountID), append(names, tg.Name)
	}
	assert.Equal(t, []string{"222222222222", "111111111111", "333333333333"}, ids, "each account once, in the order first given")
	assert.Equal(t, []string{"", "", "shared services"}, names, "names from the file")
	assert.Equal(t, []string{"444444444444", "555555555555"}, sel.Exclude, "exclusions")
	assert.Equal(t, pipeline.DefaultRoleName, sel.Role.Name, "default role name")
	assert.Equal(t, pipeline.DefaultRolePath, sel.Role.Path, "default role path")
	assert.Equal(t, "keyaudit-test", sel.Role.SessionName, "default session name: the run's")
	assert.Equal(t, pipeline.DefaultTrailDays, s.TrailDays, "default CloudTrail days")
	assert.Equal(t, asOf, s.Now, "judged as of the start, by default")

	bad := []struct {
		name   string
		change func(*pipeline.Settings)
		want   string
	}{
		{"account", func(s *pipeline.Settings) { s.Accounts = []string{"12345"} }, `--accounts: "12345" is not an AWS account ID`},
		{"exclusion", func(s *pipeline.Settings) { s.Exclude = []string{"x"} }, `--exclude-accounts: "x" is not an AWS account ID`},
		{"file", func(s *pipeline.Settings) { s.AccountsFile = filepath.Join(dir, "none.txt") }, "--accounts-file: open"},
		{"org and accounts", func(s *pipeline.Settings) { s.Org = true }, "--org discovers the accounts itself: drop --accounts and --accounts-file, or drop --org"},
		{"concurrency", func(s *pipeline.Settings) { s.Concurrency = pipeline.MaxConcurrency + 1 }, "--concurrency must be from 1 to 200, or 0 (the default) to derive it"},
		{"negative concurrency", func(s *pipeline.Settings) { s.Concurrency = -1 }, "--concurrency must be from 1 to 200"},
		{"trail days", func(s *pipeline.Settings) { s.TrailDays = 91 }, "--trail-days must be from 1 to 90"},
		{"timeout", func(s *pipeline.Settings) { s.Timeout = -1 }, "--timeout must not be negative"},
		{"role", func(s *pipeline.Settings) { s.Role.Name = "bad role" }, `role name "bad role"`},
		// Issue 25 item 10: each of these was accepted.
		{"role path //", func(s *pipeline.Settings) { s.Role.Path = "//" }, `role path "//" is not a valid IAM path: it has an empty segment`},
		{"role path /a//b/", func(s *pipeline.Settings) { s.Role.Path = "/a//b/" }, `role path "/a//b/"`},
		{"as-of year 1", func(s *pipeline.Settings) { s.Now = time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC) }, "--as-of 0001-01-02 is not a plausible time"},
		{"as-of far ahead", func(s *pipeline.Settings) { s.Now = asOf.AddDate(11, 0, 0) }, "--as-of 2037-11-24 is not a plausible time"},
		{"unknown partition", func(s *pipeline.Settings) { s.Region = "us-iso-east-1" }, `--region "us-iso-east-1" is in a partition keyaudit does not support: use a region of aws, aws-cn, aws-us-gov`},
		{"not a region", func(s *pipeline.Settings) { s.Region = "moon" }, `--region "moon" is not an AWS region name`},
	}
	for _, tt := range bad {
		s := settings("111111111111")
		tt.change(&s)
		err := s.Validate()
		if assert.Error(t, err, "case %s", tt.name) {
			assert.Contains(t, err.Error(), tt.want, "case %s", tt.name)
		}
	}
}

// Regions of the partitions keyaudit knows pass; so does the profile's.
func TestSettingsAcceptKnownPartitions(t *testing.T) {
	for _, region := range []string{"", "us-east-1", "eu-central-2", "cn-north-1", "us-gov-west-1", "ap-southeast-5"} {
		s := settings("111111111111")
		s.Region = region
		assert.NoError(t, s.Validate(), "region %q", region)
	}
	s := settings("111111111111")
	s.Now = asOf.AddDate(-1, 0, 0)
	assert.NoError(t, s.Validate(), "a year back is a plausible --as-of")
}
