package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func ago(days int) time.Time { return now.AddDate(0, 0, -days) }

func env() Env { return Env{Now: now, Config: Defaults()} }

// key builds a key: active or not, created days ago, last used days ago
// (-1: never used; -2: unknown).
func key(id string, slot int, active bool, created, used int) inventory.Key {
	k := inventory.Key{ID: id, Slot: slot, Active: active, CreatedAt: ago(created)}
	switch used {
	case -1:
		k.LastUsed = inventory.LastUse{Known: true, Never: true}
	case -2:
	default:
		k.LastUsed = inventory.LastUse{Known: true, At: ago(used), Service: "s3", Region: "us-east-1"}
	}
	return k
}

func account(users ...inventory.User) *inventory.Account {
	return &inventory.Account{ID: "123456789012", Name: "prod", Status: inventory.StatusOK, Users: users,
		Root: &inventory.User{Name: inventory.RootName, ARN: "arn:aws:iam::123456789012:root", Root: true, PasswordEnabled: true, MFAActive: true, Keys: []inventory.Key{}}}
}

func user(name string, keys ...inventory.Key) inventory.User {
	return inventory.User{Name: name, ARN: "arn:aws:iam::123456789012:user/" + name, CreatedAt: ago(1000), Keys: keys}
}

func console(u inventory.User, mfa bool) inventory.User {
	u.PasswordEnabled, u.MFAActive = true, mfa
	return u
}

// fired returns the findings of one rule over an account.
func fired(t *testing.T, e Env, rule string, a *inventory.Account) []Finding {
	t.Helper()
	var out []Finding
	for _, f := range Evaluate(e, []inventory.Account{*a}, nil).Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

const (
	k1 = "AKIAAAAAAAAAAAAAAAA1"
	k2 = "AKIAAAAAAAAAAAAAAAA2"
)

func TestKeyRotation(t *testing.T) {
	tests := []struct {
		name   string
		key    inventory.Key
		firing bool
	}{
		{"89 days", key(k1, 1, true, 89, 1), false},
		{"90 days", key(k1, 1, true, 90, 1), false},
		{"91 days", key(k1, 1, true, 91, 1), true},
		{"slot 2, 400 days", key(k2, 2, true, 400, 1), true},
		{"inactive, 400 days", key(k1, 1, false, 400, 300), false},
		{"report only (no ID)", key("", 1, true, 120, 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, env(), "key-rotation", account(user("bob", tt.key)))
			require.Equal(t, tt.firing, len(got) == 1, "case %s: findings %+v", tt.name, got)
			if !tt.firing {
				return
			}
			f := got[0]
			assert.Equal(t, Medium, f.Severity, "case %s", tt.name)
			assert.Equal(t, CISRefs{CISv4: "1.14", CISv5: "1.13", CISv6: "2.13", CISv7: "2.12"}, f.CIS, "case %s", tt.name)
			assert.Equal(t, tt.key.Slot, f.KeySlot, "case %s", tt.name)
			assert.Equal(t, tt.key.ID, f.AccessKeyID, "case %s", tt.name)
			assert.Equal(t, days(now, tt.key.CreatedAt), *f.Details.KeyAgeDays, "case %s", tt.name)
			assert.Equal(t, 90, *f.Details.ThresholdDays, "case %s", tt.name)
			assert.NotContains(t, f.Message, "bob", "case %s: the message repeats the user", tt.name)
		})
	}
}

func TestRootKeysGetOnlyTheRootRule(t *testing.T) {
	a := account()
	a.Root.Keys = []inventory.Key{key("", 1, true, 900, 400)}
	res := Evaluate(env(), []inventory.Account{*a}, nil)
	require.Len(t, res.Findings, 1, "findings %+v", res.Findings)
	assert.Equal(t, "root-access-key", res.Findings[0].Rule)
	assert.Equal(t, Critical, res.Findings[0].Severity)
}

func TestRootAccessKey(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name     string
		keys     []inventory.Key
		present  *bool
		want     int
		severity Severity
	}{
		{"active key", []inventory.Key{key("", 1, true, 100, 1)}, nil, 1, Critical},
		{"inactive key", []inventory.Key{key("", 1, false, 100, 50)}, nil, 1, High},
		{"no key", nil, nil, 0, ""},
		{"summary fresher: key deleted since the report", []inventory.Key{key("", 1, true, 100, 1)}, &no, 0, ""},
		{"summary fresher: key created since the report", nil, &yes, 1, Critical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := account()
			a.Root.Keys, a.RootKeysPresent = tt.keys, tt.present
			got := fired(t, env(), "root-access-key", a)
			require.Len(t, got, tt.want, "case %s", tt.name)
			acts := Evaluate(env(), []inventory.Account{*a}, nil).Actions
			require.Len(t, acts, tt.want, "case %s: one action per root key", tt.name)
			for _, act := range acts {
				assert.Contains(t, planText(act.Plan), "as the root user", "case %s", tt.name)
			}
			if tt.want > 0 {
				assert.Equal(t, tt.severity, got[0].Severity, "case %s", tt.name)
				assert.Equal(t, inventory.RootName, got[0].Principal, "case %s", tt.name)
				assert.Equal(t, "2.3", got[0].CIS.In(CISv6), "case %s", tt.name)
			}
		})
	}
}

// CIS: "credentials unused for 45 days or more": day 45 counts.
func TestKeyUnused(t *testing.T) {
	tests := []struct {
		name   string
		key    inventory.Key
		firing bool
	}{
		{"used 44 days ago", key(k1, 1, true, 300, 44), false},
		{"used 45 days ago", key(k1, 1, true, 300, 45), true},
		{"used 46 days ago", key(k1, 1, true, 300, 46), true},
		{"never used, created 44 days ago", key(k1, 1, true, 44, -1), false},
		{"never used, created 45 days ago", key(k1, 1, true, 45, -1), true},
		{"last use unknown", key(k1, 1, true, 300, -2), false},
		{"inactive", key(k1, 1, false, 300, 200), false},
		{"slot 2", key(k2, 2, true, 300, 100), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, env(), "key-unused", account(user("svc", tt.key)))
			assert.Equal(t, tt.firing, len(got) == 1, "case %s: findings %+v", tt.name, got)
		})
	}
}

// CIS: a key created at the console user's setup and never used. A key
// made much later, or a minute ago, is not that.
func TestKeySetupUnused(t *testing.T) {
	atSetup := func(keyAge int, used int) inventory.User {
		u := console(user("carol", key(k1, 1, true, keyAge, used)), true)
		u.CreatedAt = ago(keyAge).Add(-10 * time.Minute)
		return u
	}
	minuteOld := atSetup(0, -1)
	minuteOld.Keys[0].CreatedAt, minuteOld.CreatedAt = now.Add(-time.Minute), now.Add(-2*time.Minute)
	later := console(user("carol", key(k1, 1, true, 20, -1)), true) // user created 1000 days ago
	unknownUser := atSetup(20, -1)
	unknownUser.CreatedAt = time.Time{}
	tests := []struct {
		name   string
		u      inventory.User
		firing bool
	}{
		{"created at setup 20 days ago, never used", atSetup(20, -1), true},
		{"created at setup 7 days ago, never used", atSetup(7, -1), true},
		{"created at setup 6 days ago: may not have run yet", atSetup(6, -1), false},
		{"created a minute ago with the user", minuteOld, false},
		{"created long after the user", later, false},
		{"user creation unknown", unknownUser, false},
		{"used", atSetup(20, 1), false},
		{"program user", func() inventory.User { u := atSetup(20, -1); u.PasswordEnabled = false; return u }(), false},
		{"last use unknown", atSetup(20, -2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, env(), "key-setup-unused", account(tt.u))
			assert.Equal(t, tt.firing, len(got) == 1, "case %s: findings %+v", tt.name, got)
		})
	}
}

func TestKeyTwoActive(t *testing.T) {
	withGrace := func(days int) Env { e := env(); e.Config.Thresholds.RotationOverlapDays = days; return e }
	tests := []struct {
		name   string
		env    Env
		keys   []inventory.Key
		firing bool
	}{
		{"default: no grace, newer created today", env(), []inventory.Key{key(k1, 1, true, 200, 1), key(k2, 2, true, 0, 1)}, true},
		{"grace 7, newer 7 days old", withGrace(7), []inventory.Key{key(k1, 1, true, 200, 1), key(k2, 2, true, 7, 1)}, false},
		{"grace 7, newer 8 days old", withGrace(7), []inventory.Key{key(k1, 1, true, 200, 1), key(k2, 2, true, 8, 1)}, true},
		{"one inactive", env(), []inventory.Key{key(k1, 1, false, 200, 100), key(k2, 2, true, 30, 1)}, false},
		{"slot 2 older", env(), []inventory.Key{key(k1, 1, true, 20, 1), key(k2, 2, true, 200, 1)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, tt.env, "key-two-active", account(user("ci", tt.keys...)))
			require.Equal(t, tt.firing, len(got) == 1, "case %s: findings %+v", tt.name, got)
			if tt.firing {
				older := tt.keys[0]
				if tt.keys[1].CreatedAt.Before(older.CreatedAt) {
					older = tt.keys[1]
				}
				assert.Equal(t, older.ID, got[0].AccessKeyID, "case %s: the finding is on the older key", tt.name)
			}
		})
	}
	assert.Equal(t, 0, Defaults().Thresholds.RotationOverlapDays, "CIS allows no overlap by default")
}

func TestKeyInactive(t *testing.T) {
	tests := []struct {
		name   string
		key    inventory.Key
		firing bool
	}{
		{"used 30 days ago", key(k1, 1, false, 300, 30), false},
		{"used 31 days ago", key(k1, 1, false, 300, 31), true},
		{"never used, created 31 days ago", key(k1, 1, false, 31, -1), true},
		{"never used, created 10 days ago", key(k1, 1, false, 10, -1), false},
		{"active", key(k1, 1, true, 300, 100), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, env(), "key-inactive", account(user("old", tt.key)))
			assert.Equal(t, tt.firing, len(got) == 1, "case %s: findings %+v", tt.name, got)
		})
	}
}

func TestKeyWithoutMFA(t *testing.T) {
	tests := []struct {
		name   string
		u      inventory.User
		firing bool
	}{
		{"console, no MFA, active key", console(user("bob", key(k1, 1, true, 10, 1)), false), true},
		{"console, MFA", console(user("bob", key(k1, 1, true, 10, 1)), true), false},
		{"console, no MFA, inactive key", console(user("bob", key(k1, 1, false, 10, 1)), false), false},
		{"no console", user("bob", key(k1, 1, true, 10, 1)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, env(), "key-without-mfa", account(tt.u))
			require.Equal(t, tt.firing, len(got) == 1, "case %s: findings %+v", tt.name, got)
			if tt.firing {
				assert.Equal(t, High, got[0].Severity, "case %s", tt.name)
			}
		})
	}
}

func TestSightings(t *testing.T) {
	e := env()
	e.Audited = map[string]bool{"123456789012": true}
	sightings := []inventory.Sighting{
		{AccessKeyID: k1, Source: "~/.aws/credentials [default]", Profile: "default", Kind: inventory.KindLongTerm, OwnerAccount: "123456789012"},
		{AccessKeyID: "ASIAAAAAAAAAAAAAAAA3", Source: "argument 2", Kind: inventory.KindTemporary, OwnerAccount: "999999999999"},
	}
	res := Evaluate(e, nil, sightings)
	got := map[string]string{}
	for _, f := range res.Findings {
		got[f.Rule] = f.AccessKeyID
	}
	assert.Equal(t, map[string]string{"key-long-term": k1, "key-foreign-account": "ASIAAAAAAAAAAAAAAAA3"}, got)
	require.Len(t, res.Actions, 2)
	for _, a := range res.Actions {
		assert.NotEmpty(t, a.Plan, "action on %s has no plan", a.AccessKeyID)
	}
	// With its owner known, the long-term key's plan starts with the account guard.
	sightings[0].Principal = "dev"
	res = Evaluate(e, nil, sightings[:1])
	require.Len(t, res.Actions, 1)
	assert.Equal(t, `test "$(aws sts get-caller-identity --query Account --output text)" = 123456789012`, res.Actions[0].Plan[0].Command)
	assert.NotEqual(t, -1, stepIndex(res.Actions[0].Plan, "update-access-key --user-name dev --access-key-id "+k1+" --status Inactive"))
}

// Evaluate, not the checks, names the rule, its severity and its CIS ids.
func TestEvaluateStampsFromTheRule(t *testing.T) {
	a := account(user("bob", key(k1, 1, true, 200, 1)))
	raw := keyRotation(env(), a)
	require.Len(t, raw, 1)
	assert.Empty(t, raw[0].Rule, "a check names its own rule")
	assert.Empty(t, raw[0].CIS, "a check sets its own CIS ids")

	cat := map[string]Rule{}
	for _, r := range Catalogue() {
		cat[r.ID] = r
	}
	e := env()
	e.Audited = map[string]bool{}
	a = account(console(user("bob", key(k1, 1, true, 200, 60), key(k2, 2, false, 300, 100)), false))
	a.Root.Keys = []inventory.Key{key("", 1, true, 900, 1)}
	res := Evaluate(e, []inventory.Account{*a}, []inventory.Sighting{{AccessKeyID: "AKIAAAAAAAAAAAAAAAA5", Source: "argument 1", Kind: inventory.KindLongTerm, OwnerAccount: "999999999999", Leaked: true}})
	require.Len(t, res.Findings, 7, "findings %+v", res.Findings)
	for _, f := range res.Findings {
		r, ok := cat[f.Rule]
		require.True(t, ok, "unknown rule %q", f.Rule)
		assert.Equal(t, r.Severity, f.Severity, "rule %s", f.Rule)
		want := CISRefs{}
		for v, id := range r.CIS {
			want[v] = id
		}
		assert.Equal(t, want, f.CIS, "rule %s", f.Rule)
	}
}

// CIS ids per benchmark version, as docs/design.md maps them, checked against
// Prowler's cis_5.0_aws.json, cis_6.0_aws.json and cis_7.0_aws.json
// (prowler-cloud/prowler, prowler/compliance/aws/). v7.0.0: 2.4 "Ensure no
// 'root' user account access key exists" (iam_no_root_access_key), 2.10
// MFA for console users (iam_user_mfa_enabled_console_access), 2.11
// credentials unused for 45 days (iam_user_accesskey_unused), 2.12 keys
// rotated every 90 days (iam_rotate_access_key_90_days); it has no
// recommendation on keys created at setup or on two active keys.
func TestCISMapping(t *testing.T) {
	want := map[string]CISRefs{
		"root-access-key":  {CISv4: "1.4", CISv5: "1.3", CISv6: "2.3", CISv7: "2.4"},
		"key-without-mfa":  {CISv4: "1.10", CISv5: "1.9", CISv6: "2.9", CISv7: "2.10"},
		"key-setup-unused": {CISv4: "1.11", CISv5: "1.10", CISv6: "2.10"},
		"key-unused":       {CISv4: "1.12", CISv5: "1.11", CISv6: "2.11", CISv7: "2.11"},
		"key-two-active":   {CISv4: "1.13", CISv5: "1.12", CISv6: "2.12"},
		"key-rotation":     {CISv4: "1.14", CISv5: "1.13", CISv6: "2.13", CISv7: "2.12"},
	}
	for _, r := range Catalogue() {
		if w, ok := want[r.ID]; ok {
			assert.Equal(t, w, r.CIS, "rule %s", r.ID)
		} else {
			assert.Empty(t, r.CIS, "rule %s maps to no CIS recommendation", r.ID)
		}
	}
}

func TestParseCISVersion(t *testing.T) {
	for in, want := range map[string]CISVersion{"v7.0.0": CISv7, "7": CISv7, "v6.0.0": CISv6, "6": CISv6, "V5.0.0": CISv5, "4.0.1": CISv4, "v1.4.0": CISv4, "v3.0.0": CISv4} {
		got, err := ParseCISVersion(in)
		require.NoError(t, err, "case %s", in)
		assert.Equal(t, want, got, "case %s", in)
	}
	_, err := ParseCISVersion("v8")
	assert.ErrorContains(t, err, `unknown CIS benchmark version "v8"`)
	assert.Equal(t, CISv6, Defaults().CISVersion)
}

func TestSuppressions(t *testing.T) {
	a := account(user("legacy", key(k1, 1, true, 200, 1)), user("other", key(k2, 1, true, 200, 1)))
	cfg, err := ParseConfig("keyaudit.yaml", []byte(`
suppressions:
  - rule: key-rotation
    principal: legacy
    reason: retired with the mainframe, INC-42
    expires: 2026-12-31
  - rule: key-rotation
    access_key_id: `+k2+`
    reason: expired acceptance
    expires: 2026-11-23
`))
	require.NoError(t, err)
	e := env()
	e.Config = cfg
	res := Evaluate(e, []inventory.Account{*a}, nil)
	byPrincipal := map[string]Finding{}
	for _, f := range res.Findings {
		byPrincipal[f.Principal] = f
	}
	require.Contains(t, byPrincipal, "legacy", "no finding for legacy: nothing to suppress")
	require.Contains(t, byPrincipal, "other", "no finding for other: nothing to check")
	if assert.NotNil(t, byPrincipal["legacy"].Suppressed, "legacy's finding is not suppressed") {
		assert.Equal(t, "retired with the mainframe, INC-42", byPrincipal["legacy"].Suppressed.Reason)
	}
	assert.Nil(t, byPrincipal["other"].Suppressed, "an expired suppression still suppresses")
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "keyaudit.yaml:7")
	assert.Contains(t, res.Warnings[0], "expired on 2026-11-23")

	// In force through its expiry day.
	e.Now = time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC)
	assert.Empty(t, Evaluate(e, []inventory.Account{*a}, nil).Warnings, "suppression expired on its last day")
}

func TestSuppressionByFingerprint(t *testing.T) {
	a := account(user("legacy", key(k1, 1, true, 200, 1)))
	got := fired(t, env(), "key-rotation", a)
	require.Len(t, got, 1)
	cfg, err := ParseConfig("c.yaml", []byte("suppressions:\n  - rule: key-rotation\n    fingerprint: "+got[0].Fingerprint+"\n    reason: accepted\n"))
	require.NoError(t, err)
	e := env()
	e.Config = cfg
	got = fired(t, e, "key-rotation", a)
	require.Len(t, got, 1)
	assert.NotNil(t, got[0].Suppressed, "not suppressed by its fingerprint")
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"negative threshold", "thresholds:\n  unused_days: -3\n", `c.yaml:2: thresholds.unused_days must be a whole number of days from 1 to 3650, got "-3"`},
		{"not a number", "thresholds:\n  max_key_age_days: ninety\n", `c.yaml:2: thresholds.max_key_age_days`},
		{"unknown threshold", "thresholds:\n  max_age: 3\n", `c.yaml:2: unknown threshold "max_age"`},
		{"unknown setting", "threshold:\n  unused_days: 3\n", `c.yaml:2: unknown setting "threshold"`},
		{"unknown rule", "suppressions:\n  - rule: key-old\n    principal: x\n    reason: y\n", `c.yaml:2: unknown rule "key-old"`},
		{"no reason", "suppressions:\n  - rule: key-rotation\n    principal: x\n", `c.yaml:2: a suppression needs a reason`},
		{"no selector", "suppressions:\n  - rule: key-rotation\n    reason: y\n", "at least one of account"},
		{"bad account", "suppressions:\n  - rule: key-rotation\n    account: 1234\n    reason: y\n", `c.yaml:3: account "1234"`},
		{"bad date", "suppressions:\n  - rule: key-rotation\n    principal: x\n    reason: y\n    expires: soon\n", `c.yaml:5: expires "soon"`},
		{"bad CIS version", "cis_version: v9\n", `c.yaml:1: cis_version "v9" is not a CIS benchmark version`},
		{"bad yaml", "thresholds: [\n", "c.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("c.yaml", []byte(tt.yaml))
			assert.ErrorContains(t, err, tt.want, "case %s", tt.name)
		})
	}
}

func TestParseConfigThresholds(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte("cis_version: v4.0.1\nthresholds:\n  max_key_age_days: 30\n  rotation_overlap_days: 3\n"))
	require.NoError(t, err)
	assert.Equal(t, Thresholds{MaxKeyAgeDays: 30, UnusedDays: 45, RotationOverlapDays: 3, InactiveDays: 30}, cfg.Thresholds)
	assert.Equal(t, CISv4, cfg.CISVersion)
	empty, err := ParseConfig("e.yaml", nil)
	require.NoError(t, err)
	assert.Equal(t, Defaults(), empty, "an empty file gives the defaults")
}

func TestOrderAndFingerprintsAreStable(t *testing.T) {
	a := account(user("zed", key(k2, 1, true, 200, 100)), user("amy", key(k1, 1, true, 200, 100)))
	first := Evaluate(env(), []inventory.Account{*a}, nil).Findings
	second := Evaluate(env(), []inventory.Account{*a}, nil).Findings
	require.NotEmpty(t, first)
	assert.Equal(t, "amy", first[0].Principal, "findings not ordered by principal")
	require.Len(t, second, len(first))
	for i := range first {
		assert.Equal(t, first[i].Fingerprint, second[i].Fingerprint, "finding %d", i)
		assert.Len(t, first[i].Fingerprint, 16, "finding %d", i)
	}
	assert.NotEqual(t, Fingerprint("key-rotation", "1", "amy", k1, 1), Fingerprint("key-unused", "1", "amy", k1, 1), "two rules on one key share a fingerprint")
}

func TestKeysToConfirm(t *testing.T) {
	confirmed := key(k2, 2, true, 300, 100)
	confirmed.LastUsed.Confirmed = true
	a := account(user("svc", key(k1, 1, true, 300, 100), confirmed))
	got := KeysToConfirm(Evaluate(env(), []inventory.Account{*a}, nil).Findings)
	assert.Equal(t, map[string][]string{"123456789012": {k1}}, got, "only the unconfirmed key")
}

func TestCatalogueMatchesDesign(t *testing.T) {
	want := map[string]Severity{
		"root-access-key": Critical, "key-rotation": Medium, "key-unused": Medium, "key-setup-unused": Low,
		"key-two-active": Medium, "key-inactive": Low, "key-without-mfa": High, "key-long-term": Medium, "key-foreign-account": High,
		"key-leaked": Critical,
	}
	cat := Catalogue()
	require.Len(t, cat, len(want))
	for _, r := range cat {
		assert.Equal(t, want[r.ID], r.Severity, "rule %s", r.ID)
		assert.True(t, r.Check != nil || r.CheckSighting != nil, "rule %s checks nothing", r.ID)
		if r.Threshold != "" && r.Threshold != "rotation_overlap_days" {
			assert.NotZero(t, Defaults().Thresholds.Get(r.Threshold), "rule %s: threshold %q has no default", r.ID, r.Threshold)
		}
	}
}

func TestExampleConfigParses(t *testing.T) {
	cfg, err := LoadConfig("../testdata/config/example.yaml")
	require.NoError(t, err)
	assert.Len(t, cfg.Suppressions, 2)
	assert.Equal(t, Defaults().Thresholds, cfg.Thresholds)
	assert.Equal(t, CISv6, cfg.CISVersion)
}

func planText(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.Action + "\n  " + s.Command + "\n")
	}
	return b.String()
}
