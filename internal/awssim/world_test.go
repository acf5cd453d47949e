package awssim

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorldsLoadAndValidate(t *testing.T) {
	tests := []struct {
		name  string
		load  func() (*World, error)
		wantN int
	}{
		{"org-small", func() (*World, error) { return LoadWorld("../../testdata/aws/org-small.json") }, 6},
		{"demo", DemoWorld, 5},
		{"generated", func() (*World, error) { return GenerateOrg(30, 12, 7), nil }, 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := tt.load()
			require.NoError(t, err)
			assert.Len(t, w.Accounts, tt.wantN)
			assert.NotNil(t, w.Management(), "management account")
			before, _ := json.Marshal(w)
			require.NoError(t, w.Normalize(), "normalizing again")
			after, _ := json.Marshal(w)
			assert.JSONEq(t, string(before), string(after), "Normalize is idempotent")
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	valid := func() Account {
		return Account{ID: "123456789012", Name: "a", Users: []User{{Name: "u", Keys: []Key{{Status: "Active", CreatedDaysAgo: 10}}}}}
	}
	tests := []struct {
		name    string
		change  func(w *World)
		wantErr string
	}{
		{"bad account ID", func(w *World) { w.Accounts[0].ID = "12345" }, "ID is not 12 digits"},
		{"duplicate account", func(w *World) { w.Accounts = append(w.Accounts, valid()) }, "duplicate ID"},
		{"bad state", func(w *World) { w.Accounts[0].State = "CLOSED" }, "state \"CLOSED\""},
		{"three keys", func(w *World) {
			u := &w.Accounts[0].Users[0]
			u.Keys = append(u.Keys, Key{Status: "Active"}, Key{Status: "Active"})
		}, "has 3 access keys"},
		{"key of another account", func(w *World) { w.Accounts[0].Users[0].Keys[0].ID = KeyID("AKIA", "210987654321", 1) }, "not an AKIA ID of this account"},
		{"reactivated before created", func(w *World) { w.Accounts[0].Users[0].Keys[0].ReactivatedDaysAgo = ptr(Days(20)) }, "reactivated before it was created"},
		{"caller account of the same account", func(w *World) {
			w.Accounts[0].Events = []Event{{CallerAccount: "123456789012", Name: "AssumeRole", Source: "sts.amazonaws.com"}}
		}, "is not another account's"},
		{"negative report fault", func(w *World) { w.Accounts[0].Faults.ReportLimitExceeded = -1 }, "must not be negative"},
		{"bad key status", func(w *World) { w.Accounts[0].Users[0].Keys[0].Status = "Enabled" }, "not Active or Inactive"},
		{"used before created", func(w *World) { w.Accounts[0].Users[0].Keys[0].LastUsedDaysAgo = ptr(Days(20)) }, "used before it was created"},
		{"event of unknown user", func(w *World) {
			w.Accounts[0].Events = []Event{{User: "nobody", Name: "ListBuckets", Source: "s3.amazonaws.com"}}
		}, "no user \"nobody\""},
		{"event with missing key", func(w *World) {
			w.Accounts[0].Events = []Event{{User: "u", Key: 2, Name: "ListBuckets", Source: "s3.amazonaws.com"}}
		}, "has no key 2"},
		{"bad deny action", func(w *World) { w.Accounts[0].Faults.Deny = []string{"GetCredentialReport"} }, "not service:Action"},
		{"two management accounts", func(w *World) {
			second := valid()
			second.ID, second.Users[0].Keys[0].ID = "210987654321", ""
			w.Accounts = append(w.Accounts, second)
			w.Accounts[0].Management, w.Accounts[1].Management = true, true
		}, "2 management accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &World{Accounts: []Account{valid()}}
			tt.change(w)
			err := w.Normalize()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	t.Run("unknown field", func(t *testing.T) {
		_, err := ParseWorld([]byte(`{"accounts": [], "acounts": []}`))
		assert.Error(t, err, "a misspelt field")
	})
}

// The demo must show every kind of finding keyaudit reports, and an account
// it cannot audit.
func TestDemoWorldShowsEveryFinding(t *testing.T) {
	w, err := DemoWorld()
	require.NoError(t, err)
	type keyCheck func(a *Account, u *User, k Key) bool
	active := func(k Key) bool { return k.Status == "Active" }
	usedWithin := func(k Key, days Days) bool { return k.LastUsedDaysAgo != nil && *k.LastUsedDaysAgo <= days }
	tests := []struct {
		name  string
		check keyCheck
	}{
		{"active root key", func(a *Account, u *User, k Key) bool { return u == nil && active(k) }},
		{"key older than 90 days", func(a *Account, u *User, k Key) bool { return u != nil && active(k) && k.CreatedDaysAgo > 90 }},
		{"unused 45+ days", func(a *Account, u *User, k Key) bool {
			return u != nil && active(k) && k.LastUsedDaysAgo != nil && *k.LastUsedDaysAgo > 45
		}},
		{"never-used key of a console user", func(a *Account, u *User, k Key) bool {
			return u != nil && u.Password && active(k) && k.LastUsedDaysAgo == nil
		}},
		{"two active keys", func(a *Account, u *User, k Key) bool {
			return u != nil && len(u.Keys) == 2 && active(u.Keys[0]) && active(u.Keys[1])
		}},
		{"old inactive key", func(a *Account, u *User, k Key) bool { return !active(k) && !usedWithin(k, 30) }},
		{"console user with a key and no MFA", func(a *Account, u *User, k Key) bool { return u != nil && u.Password && !u.MFA && active(k) }},
	}
	audited := func(a *Account) bool {
		return slices.ContainsFunc(a.Roles, func(r Role) bool { return r.Name == AuditRole })
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range w.Accounts {
				a := &w.Accounts[i]
				if !audited(a) {
					continue
				}
				for _, k := range a.Root.Keys {
					if tt.check(a, nil, k) {
						return
					}
				}
				for j := range a.Users {
					for _, k := range a.Users[j].Keys {
						if tt.check(a, &a.Users[j], k) {
							return
						}
					}
				}
			}
			assert.Fail(t, "no key in an audited account shows it")
		})
	}
	t.Run("an account without the role", func(t *testing.T) {
		assert.True(t, slices.ContainsFunc(w.Accounts, func(a Account) bool { return !audited(&a) }), "an account lacks the role")
	})
	t.Run("keys used in CloudTrail's window have events", func(t *testing.T) {
		for _, a := range w.Accounts {
			for _, u := range a.Users {
				for slot, k := range u.Keys {
					if usedWithin(k, 90) {
						assert.True(t, slices.ContainsFunc(a.Events, func(e Event) bool { return e.User == u.Name && e.Key == slot+1 }),
							"%s: %s key %d was used %.1f days ago: it has events", a.Name, u.Name, slot+1, *k.LastUsedDaysAgo)
					}
				}
			}
		}
	})
}

// The demo organization, served: the management account can reach every
// member but the one without the role.
func TestDemoServes(t *testing.T) {
	w, err := DemoWorld()
	require.NoError(t, err)
	srv := NewServer(w, WithClock(fixedNow))
	t.Cleanup(srv.Close)
	client := sts.NewFromConfig(sdkConfig(t, srv, w.Management().ID, "us-east-1"))
	for _, a := range w.Accounts[1:] {
		t.Run(a.Name, func(t *testing.T) {
			_, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
				RoleArn: aws.String("arn:aws:iam::" + a.ID + ":role/" + AuditRole), RoleSessionName: aws.String("keyaudit")})
			if a.Name == "acme-sandbox" {
				wantAPIError(t, err, "AccessDenied", "sts:AssumeRole")
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestGenerateOrg(t *testing.T) {
	w := GenerateOrg(200, 20, 42)
	t.Run("deterministic", func(t *testing.T) {
		assert.Equal(t, w, GenerateOrg(200, 20, 42), "same seed, same world")
		assert.NotEqual(t, w, GenerateOrg(200, 20, 43), "different seeds, different worlds")
	})
	mgmt := w.Management()
	counts := map[string]int{}
	for _, a := range w.Accounts {
		require.Len(t, a.Users, 20, "%s: users", a.Name)
		require.Equal(t, []Role{{Name: AuditRole, Path: "/", Trust: []string{mgmt.ID}}}, a.Roles, "%s: roles", a.Name)
		if len(a.Root.Keys) > 0 {
			counts["root key"]++
		}
		if a.State != "ACTIVE" {
			counts["not active"]++
		}
		counts["events"] += len(a.Events)
		for _, u := range a.Users {
			if u.Password && !u.MFA && len(u.Keys) > 0 {
				counts["console user with key, no MFA"]++
			}
			if len(u.Keys) == 2 {
				counts["two keys"]++
			}
			for _, k := range u.Keys {
				switch {
				case k.Status == "Inactive":
					counts["inactive"]++
				case k.LastUsedDaysAgo == nil:
					counts["never used"]++
				case *k.LastUsedDaysAgo > 45:
					counts["unused"]++
				case k.CreatedDaysAgo > 90:
					counts["old"]++
				default:
					counts["fine"]++
				}
			}
		}
	}
	for _, kind := range []string{"root key", "not active", "events", "console user with key, no MFA", "two keys", "inactive", "never used", "unused", "old", "fine"} {
		assert.NotZero(t, counts[kind], "%s in a generated organization of 200 accounts", kind)
	}
	assert.GreaterOrEqual(t, counts["fine"], counts["old"]+counts["unused"]+counts["never used"]+counts["inactive"], "counts %v: most keys are fine", counts)
}
