package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseFixture(t *testing.T, name string) (*Account, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "credential-reports", name))
	if err != nil {
		t.Fatal(err)
	}
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
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := parseFixture(t, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestParseCredentialReportShapes(t *testing.T) {
	// The same report, however its columns are arranged or extended, parses the same.
	want, err := parseFixture(t, "clean.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"extra-columns.csv", "columns-reordered.csv", "gov-partition.csv"} {
		t.Run(file, func(t *testing.T) {
			got, err := parseFixture(t, file)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != want.ID || len(got.Users) != len(want.Users) || got.Root == nil {
				t.Fatalf("got account %s with %d users (root %v), want %s with %d", got.ID, len(got.Users), got.Root != nil, want.ID, len(want.Users))
			}
			for i := range got.Users {
				g, w := got.Users[i], want.Users[i]
				if g.Name != w.Name || len(g.Keys) != len(w.Keys) || g.MFAActive != w.MFAActive || g.PasswordEnabled != w.PasswordEnabled {
					t.Errorf("user %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestParseCredentialReportRealistic(t *testing.T) {
	acct, err := parseFixture(t, "realistic.csv")
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != "123456789012" || acct.Status != StatusOK {
		t.Errorf("account %s status %s", acct.ID, acct.Status)
	}
	if acct.Root == nil || !acct.Root.Root || !acct.Root.PasswordEnabled || len(acct.Root.Keys) != 1 || !acct.Root.Keys[0].Active {
		t.Fatalf("root = %+v, want the root user with one active key and a password", acct.Root)
	}
	users := map[string]User{}
	for _, u := range acct.Users {
		users[u.Name] = u
	}
	if len(users) != 8 {
		t.Errorf("%d users, want 8", len(users))
	}
	ci := users["ci-deploy"]
	if len(ci.Keys) != 2 || ci.Keys[0].Slot != 1 || ci.Keys[1].Slot != 2 || ci.Keys[0].ID != "" {
		t.Errorf("ci-deploy keys = %+v, want slots 1 and 2 without IDs", ci.Keys)
	}
	if got := ci.Keys[0].CreatedAt; !got.Equal(time.Date(2026, 4, 20, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("created = %s", got)
	}
	carol := users["carol"].Keys[0].LastUsed
	if !carol.Known || !carol.Never {
		t.Errorf("carol's never-used key = %+v, want known never used", carol)
	}
	old := users["old-integration"].Keys
	if len(old) != 2 || old[0].Active || !old[1].Active {
		t.Errorf("old-integration keys = %+v, want an inactive slot 1 and an active slot 2", old)
	}
	lb := users["legacy-backup"].Keys[0].LastUsed
	if lb.Service != "s3" || lb.Region != "us-west-2" || lb.Never {
		t.Errorf("legacy-backup last use = %+v", lb)
	}
	if ra := users["readonly-auditor"]; len(ra.Keys) != 0 || !ra.PasswordLastUsed.IsZero() {
		t.Errorf("readonly-auditor = %+v, want no keys and an unknown (no_information) password use", ra)
	}
}

func TestParseCredentialReportRootInactiveKey(t *testing.T) {
	acct, err := parseFixture(t, "root-inactive-key.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(acct.Root.Keys) != 1 || acct.Root.Keys[0].Active {
		t.Errorf("root keys = %+v, want one inactive", acct.Root.Keys)
	}
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
