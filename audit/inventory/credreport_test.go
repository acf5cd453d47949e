package inventory

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseFixture(t *testing.T, name string) (*Account, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "credential-reports", name))
	require.NoError(t, err)
	defer f.Close()
	return ParseCredentialReport(name, f)
}

func TestParseCredentialReportErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"empty.csv", "empty.csv: empty file"},
		{"header-only.csv", "no rows after the header"},
		{"missing-column.csv", `missing column "access_key_1_last_rotated"`},
		{"bad-timestamp.csv", `bad-timestamp.csv:3: column "access_key_1_last_rotated": bad timestamp "2024-13-01T09:30:00+00:00"`},
		{"bad-boolean.csv", `bad-boolean.csv:3: column "mfa_active": bad boolean "yes"`},
		{"bad-arn.csv", `bad-arn.csv:3: column "arn": bad ARN`},
		{"short-row.csv", "line 3"},
		{"two-accounts.csv", "belongs to account 210987654321"},
		{"duplicate-column.csv", `duplicate-column.csv:1: column "mfa_active" appears twice`},
	}
	for _, tt := range tests {
		_, err := parseFixture(t, tt.file)
		if assert.Error(t, err, "case %s", tt.file) {
			assert.Contains(t, err.Error(), tt.want, "case %s", tt.file)
			assert.NotContains(t, err.Error(), "\n", "case %s: the error spans lines", tt.file)
		}
	}
}

func TestParseCredentialReportShapes(t *testing.T) {
	// The same report, however its columns are arranged or extended and
	// however its booleans are cased, parses the same.
	want, err := parseFixture(t, "clean.csv")
	require.NoError(t, err)
	for _, file := range []string{"extra-columns.csv", "columns-reordered.csv", "gov-partition.csv", "upper-case-booleans.csv"} {
		got, err := parseFixture(t, file)
		if !assert.NoError(t, err, "case %s", file) {
			continue
		}
		assert.Equal(t, want.ID, got.ID, "case %s", file)
		require.NotNil(t, got.Root, "case %s", file)
		assert.Equal(t, want.Root.MFAActive, got.Root.MFAActive, "case %s: root MFA", file)
		require.Len(t, got.Users, len(want.Users), "case %s", file)
		for i := range got.Users {
			g, w := got.Users[i], want.Users[i]
			assert.Equal(t, w.Name, g.Name, "case %s: user %d", file, i)
			assert.Equal(t, w.MFAActive, g.MFAActive, "case %s: user %s MFA", file, w.Name)
			assert.Equal(t, w.PasswordEnabled, g.PasswordEnabled, "case %s: user %s password", file, w.Name)
			assert.Equal(t, w.Keys, g.Keys, "case %s: user %s keys", file, w.Name)
		}
	}
}

func TestParseCredentialReportRealistic(t *testing.T) {
	acct, err := parseFixture(t, "realistic.csv")
	require.NoError(t, err)
	assert.Equal(t, "123456789012", acct.ID)
	assert.Equal(t, StatusOK, acct.Status)
	require.NotNil(t, acct.Root)
	assert.True(t, acct.Root.Root, "root row")
	assert.True(t, acct.Root.PasswordEnabled, "the root user always has a password")
	require.Len(t, acct.Root.Keys, 1, "root keys")
	assert.True(t, acct.Root.Keys[0].Active, "root key active")

	users := map[string]User{}
	for _, u := range acct.Users {
		users[u.Name] = u
	}
	assert.Len(t, users, 8)
	ci := users["ci-deploy"]
	require.Len(t, ci.Keys, 2, "ci-deploy keys")
	assert.Equal(t, 1, ci.Keys[0].Slot, "ci-deploy slot")
	assert.Equal(t, 2, ci.Keys[1].Slot, "ci-deploy slot")
	assert.Empty(t, ci.Keys[0].ID, "a report names no key IDs")
	assert.Equal(t, time.Date(2026, 4, 20, 9, 30, 0, 0, time.UTC), ci.Keys[0].CreatedAt)

	carol := users["carol"].Keys[0].LastUsed
	assert.True(t, carol.Known && carol.Never, "carol's key: known never used, got %+v", carol)
	old := users["old-integration"].Keys
	require.Len(t, old, 2, "old-integration keys")
	assert.False(t, old[0].Active, "old-integration slot 1 inactive")
	assert.True(t, old[1].Active, "old-integration slot 2 active")
	lb := users["legacy-backup"].Keys[0].LastUsed
	assert.Equal(t, "s3", lb.Service, "legacy-backup last service")
	assert.Equal(t, "us-west-2", lb.Region, "legacy-backup last region")
	assert.False(t, lb.Never, "legacy-backup was used")
	ra := users["readonly-auditor"]
	assert.Empty(t, ra.Keys, "readonly-auditor keys")
	assert.True(t, ra.PasswordLastUsed.IsZero(), "no_information is an unknown password use")
}

func TestParseCredentialReportRootInactiveKey(t *testing.T) {
	acct, err := parseFixture(t, "root-inactive-key.csv")
	require.NoError(t, err)
	require.Len(t, acct.Root.Keys, 1)
	assert.False(t, acct.Root.Keys[0].Active)
}

func FuzzParseCredentialReport(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "credential-reports", "*.csv"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		acct, err := ParseCredentialReport("fuzz.csv", strings.NewReader(string(data)))
		if err == nil && !ValidAccountID(acct.ID) {
			t.Errorf("accepted a report for account %q", acct.ID)
		}
	})
}

// A report larger than one account's can be stops at the limit rather than
// fill memory: a million rows once took 8 GB.
func TestParseCredentialReportLimits(t *testing.T) {
	header := strings.Join(reportColumns, ",") + "\n"
	row := func(i int) string {
		return fmt.Sprintf("u%d,arn:aws:iam::123456789012:user/u%d,2024-01-10T09:30:00+00:00,false,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A\n", i, i)
	}
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("<root_account>,arn:aws:iam::123456789012:root,2019-02-01T09:30:00+00:00,not_supported,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A\n")
	for i := 0; i < MaxReportUsers; i++ {
		b.WriteString(row(i))
	}
	acct, err := ParseCredentialReport("max.csv", strings.NewReader(b.String()))
	require.NoError(t, err, "IAM's maximum of users is a valid report")
	assert.Len(t, acct.Users, MaxReportUsers, "every user read")

	b.WriteString(row(MaxReportUsers))
	_, err = ParseCredentialReport("over.csv", strings.NewReader(b.String()))
	require.Error(t, err, "one user more than IAM allows")
	assert.Contains(t, err.Error(), "more than 5000 users", "the error says why")

	huge := io.MultiReader(strings.NewReader(header), strings.NewReader(strings.Repeat("x", MaxReportBytes+10)))
	_, err = ParseCredentialReport("huge.csv", huge)
	require.Error(t, err, "a file over the size limit")
	assert.Contains(t, err.Error(), "larger than 16 MiB", "the error says why")
}

// TestParsedReportHoldsNoRows: a row's fields are slices of the row's
// text, so a user name kept as read would keep the whole row in memory for
// as long as a finding names the user. Columns AWS adds later (here a
// long one) are read past, and must not be kept either.
func TestParsedReportHoldsNoRows(t *testing.T) {
	const users, pad = 10, 1 << 20
	var b strings.Builder
	b.WriteString(strings.Join(reportColumns, ",") + ",added_later\n")
	b.WriteString("<root_account>,arn:aws:iam::123456789012:root,2019-02-01T09:30:00+00:00,not_supported,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,x\n")
	for i := range users {
		fmt.Fprintf(&b, "u%d,arn:aws:iam::123456789012:user/u%d,2024-01-10T09:30:00+00:00,false,N/A,false,true,2024-01-10T09:30:00+00:00,2026-11-20T09:30:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,%s\n", i, i, strings.Repeat("x", pad))
	}
	input := b.String()
	b.Reset()
	acct, err := ParseCredentialReport("padded.csv", strings.NewReader(input))
	require.NoError(t, err, "a report with a column added later")
	require.Len(t, acct.Users, users, "every user read")
	input = ""

	held := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	with := held()
	runtime.KeepAlive(acct)
	acct = nil
	without := held()
	assert.Less(t, int64(with)-int64(without), int64(pad), "bytes the parsed account holds: its fields, not its %d rows of %d bytes", users, pad)
}
