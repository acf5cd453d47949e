package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
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
	return inventory.User{Name: name, ARN: "arn:aws:iam::123456789012:user/" + name, Keys: keys}
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
			if (len(got) == 1) != tt.firing {
				t.Fatalf("got %d findings, want firing=%v", len(got), tt.firing)
			}
			if !tt.firing {
				return
			}
			f := got[0]
			if f.Severity != Medium || f.CIS[0] != "1.14" || f.KeySlot != tt.key.Slot || f.AccessKeyID != tt.key.ID {
				t.Errorf("finding = %+v", f)
			}
			if *f.Details.KeyAgeDays != days(now, tt.key.CreatedAt) || *f.Details.ThresholdDays != 90 {
				t.Errorf("details = %+v", f.Details)
			}
			if len(f.RotationPlan) < 5 || !strings.Contains(planText(f), "aws iam create-access-key --user-name bob") {
				t.Errorf("rotation plan lacks the create step:\n%s", planText(f))
			}
		})
	}
}

func TestRootKeysGetOnlyTheRootRule(t *testing.T) {
	a := account()
	a.Root.Keys = []inventory.Key{key("", 1, true, 900, 400)}
	res := Evaluate(env(), []inventory.Account{*a}, nil)
	if len(res.Findings) != 1 || res.Findings[0].Rule != "root-access-key" || res.Findings[0].Severity != Critical {
		t.Fatalf("findings = %+v, want only a critical root-access-key", res.Findings)
	}
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
			if len(got) != tt.want {
				t.Fatalf("got %d findings, want %d", len(got), tt.want)
			}
			if tt.want > 0 && (got[0].Severity != tt.severity || got[0].Principal != inventory.RootName || got[0].CIS[0] != "1.4") {
				t.Errorf("finding = %+v", got[0])
			}
		})
	}
}

func TestKeyUnused(t *testing.T) {
	tests := []struct {
		name   string
		key    inventory.Key
		firing bool
	}{
		{"used 44 days ago", key(k1, 1, true, 300, 44), false},
		{"used 45 days ago", key(k1, 1, true, 300, 45), false},
		{"used 46 days ago", key(k1, 1, true, 300, 46), true},
		{"never used, created 44 days ago", key(k1, 1, true, 44, -1), false},
		{"never used, created 46 days ago", key(k1, 1, true, 46, -1), true},
		{"last use unknown", key(k1, 1, true, 300, -2), false},
		{"inactive", key(k1, 1, false, 300, 200), false},
		{"slot 2", key(k2, 2, true, 300, 100), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, env(), "key-unused", account(user("svc", tt.key)))
			if (len(got) == 1) != tt.firing {
				t.Fatalf("got %d findings, want firing=%v", len(got), tt.firing)
			}
			if tt.firing && !strings.Contains(planText(got[0]), "update-access-key --user-name svc --access-key-id "+tt.key.ID+" --status Inactive") {
				t.Errorf("plan lacks the deactivate step:\n%s", planText(got[0]))
			}
		})
	}
}

func TestKeySetupUnused(t *testing.T) {
	tests := []struct {
		name   string
		u      inventory.User
		firing bool
	}{
		{"console user, never used", console(user("carol", key(k1, 1, true, 3, -1)), true), true},
		{"console user, used", console(user("carol", key(k1, 1, true, 3, 1)), true), false},
		{"program user, never used", user("svc", key(k1, 1, true, 3, -1)), false},
		{"console user, last use unknown", console(user("carol", key(k1, 1, true, 3, -2)), true), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fired(t, env(), "key-setup-unused", account(tt.u)); (len(got) == 1) != tt.firing {
				t.Errorf("got %d findings, want firing=%v", len(got), tt.firing)
			}
		})
	}
}

func TestKeyTwoActive(t *testing.T) {
	tests := []struct {
		name   string
		keys   []inventory.Key
		firing bool
	}{
		{"newer 7 days old: grace", []inventory.Key{key(k1, 1, true, 200, 1), key(k2, 2, true, 7, 1)}, false},
		{"newer 8 days old", []inventory.Key{key(k1, 1, true, 200, 1), key(k2, 2, true, 8, 1)}, true},
		{"one inactive", []inventory.Key{key(k1, 1, false, 200, 100), key(k2, 2, true, 30, 1)}, false},
		{"slot 2 older", []inventory.Key{key(k1, 1, true, 20, 1), key(k2, 2, true, 200, 1)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, env(), "key-two-active", account(user("ci", tt.keys...)))
			if (len(got) == 1) != tt.firing {
				t.Fatalf("got %d findings, want firing=%v", len(got), tt.firing)
			}
			if tt.firing {
				older := tt.keys[0]
				if tt.keys[1].CreatedAt.Before(older.CreatedAt) {
					older = tt.keys[1]
				}
				if got[0].AccessKeyID != older.ID {
					t.Errorf("finding on %s, want the older key %s", got[0].AccessKeyID, older.ID)
				}
			}
		})
	}
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
			if (len(got) == 1) != tt.firing {
				t.Fatalf("got %d findings, want firing=%v", len(got), tt.firing)
			}
			if tt.firing && !strings.Contains(planText(got[0]), "aws iam delete-access-key --user-name old --access-key-id "+k1) {
				t.Errorf("plan:\n%s", planText(got[0]))
			}
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
			if (len(got) == 1) != tt.firing {
				t.Fatalf("got %d findings, want firing=%v", len(got), tt.firing)
			}
			if tt.firing && got[0].Severity != High {
				t.Errorf("severity %s", got[0].Severity)
			}
		})
	}
}

func TestSightings(t *testing.T) {
	e := env()
	e.Audited = map[string]bool{"123456789012": true}
	sightings := []inventory.Sighting{
		{AccessKeyID: k1, Source: "~/.aws/credentials [default]", Kind: inventory.KindLongTerm, OwnerAccount: "123456789012"},
		{AccessKeyID: "ASIAAAAAAAAAAAAAAAA3", Source: "argument 2", Kind: inventory.KindTemporary, OwnerAccount: "999999999999"},
	}
	res := Evaluate(e, nil, sightings)
	rules := map[string]string{}
	for _, f := range res.Findings {
		rules[f.Rule] = f.AccessKeyID
	}
	if rules["key-long-term"] != k1 {
		t.Errorf("key-long-term on %q, want %s", rules["key-long-term"], k1)
	}
	if rules["key-foreign-account"] != "ASIAAAAAAAAAAAAAAAA3" {
		t.Errorf("key-foreign-account on %q", rules["key-foreign-account"])
	}
	if len(res.Findings) != 2 {
		t.Errorf("findings = %+v, want exactly those two", res.Findings)
	}
}

func TestRotationPlanFreesSlotAndNamesSources(t *testing.T) {
	old := key(k1, 1, true, 200, 1)
	old.Usage = &inventory.Usage{Since: ago(30), Events: 12, FirstSeen: ago(29), LastSeen: ago(1),
		SourceIPs: []string{"203.0.113.10"}, UserAgents: []string{"terraform/1.7.5"}, Services: []string{"s3.amazonaws.com"}}
	a := account(user("ci", old, key(k2, 2, false, 400, 300)))
	got := fired(t, env(), "key-rotation", a)
	if len(got) != 1 {
		t.Fatalf("got %d findings", len(got))
	}
	plan := planText(got[0])
	for _, want := range []string{
		"aws iam delete-access-key --user-name ci --access-key-id " + k2, // free the slot first
		"aws iam create-access-key --user-name ci",
		"203.0.113.10", "terraform/1.7.5", "s3.amazonaws.com",
		"aws iam get-access-key-last-used --access-key-id " + k1,
		"aws iam update-access-key --user-name ci --access-key-id " + k1 + " --status Inactive",
		"aws iam delete-access-key --user-name ci --access-key-id " + k1,
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if strings.Index(plan, k2) > strings.Index(plan, "create-access-key") {
		t.Error("the inactive key is deleted after the new one is created: no slot would be free")
	}
}

func TestPlanQuotesUnsafeNames(t *testing.T) {
	got := fired(t, env(), "key-rotation", account(user("bob smith", key(k1, 1, true, 200, 1))))
	if !strings.Contains(planText(got[0]), "--user-name 'bob smith'") {
		t.Errorf("plan:\n%s", planText(got[0]))
	}
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
	if err != nil {
		t.Fatal(err)
	}
	e := env()
	e.Config = cfg
	res := Evaluate(e, []inventory.Account{*a}, nil)
	for _, f := range res.Findings {
		switch f.Principal {
		case "legacy":
			if f.Suppressed == nil || f.Suppressed.Reason != "retired with the mainframe, INC-42" {
				t.Errorf("legacy's finding not suppressed: %+v", f.Suppressed)
			}
		case "other":
			if f.Suppressed != nil {
				t.Errorf("an expired suppression still suppresses: %+v", f.Suppressed)
			}
		}
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "keyaudit.yaml:7") || !strings.Contains(res.Warnings[0], "expired on 2026-11-23") {
		t.Errorf("warnings = %q, want one naming the expired suppression's line and date", res.Warnings)
	}

	// In force through its expiry day.
	e.Now = time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC)
	if w := Evaluate(e, []inventory.Account{*a}, nil).Warnings; len(w) != 0 {
		t.Errorf("suppression expired on its last day: %q", w)
	}
}

func TestSuppressionByFingerprint(t *testing.T) {
	a := account(user("legacy", key(k1, 1, true, 200, 1)))
	fp := fired(t, env(), "key-rotation", a)[0].Fingerprint
	cfg, err := ParseConfig("c.yaml", []byte("suppressions:\n  - rule: key-rotation\n    fingerprint: "+fp+"\n    reason: accepted\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := env()
	e.Config = cfg
	if f := fired(t, e, "key-rotation", a)[0]; f.Suppressed == nil {
		t.Error("not suppressed by its fingerprint")
	}
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
		{"bad yaml", "thresholds: [\n", "c.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("c.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseConfigThresholds(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte("thresholds:\n  max_key_age_days: 30\n  rotation_overlap_days: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Thresholds{MaxKeyAgeDays: 30, UnusedDays: 45, RotationOverlapDays: 0, InactiveDays: 30}
	if cfg.Thresholds != want {
		t.Errorf("thresholds = %+v, want %+v", cfg.Thresholds, want)
	}
	if empty, err := ParseConfig("e.yaml", nil); err != nil || empty.Thresholds != Defaults().Thresholds {
		t.Errorf("empty file: %+v, %v", empty, err)
	}
}

func TestOrderAndFingerprintsAreStable(t *testing.T) {
	a := account(user("zed", key(k2, 1, true, 200, 100)), user("amy", key(k1, 1, true, 200, 100)))
	first := Evaluate(env(), []inventory.Account{*a}, nil).Findings
	second := Evaluate(env(), []inventory.Account{*a}, nil).Findings
	if len(first) == 0 || first[0].Principal != "amy" {
		t.Fatalf("findings not ordered by principal: %+v", first)
	}
	for i := range first {
		if first[i].Fingerprint != second[i].Fingerprint || len(first[i].Fingerprint) != 16 {
			t.Errorf("fingerprint %d: %q then %q", i, first[i].Fingerprint, second[i].Fingerprint)
		}
	}
	if Fingerprint("key-rotation", "1", "amy", k1, 1) == Fingerprint("key-unused", "1", "amy", k1, 1) {
		t.Error("two rules on one key share a fingerprint")
	}
}

func TestKeysToConfirm(t *testing.T) {
	confirmed := key(k2, 2, true, 300, 100)
	confirmed.LastUsed.Confirmed = true
	a := account(user("svc", key(k1, 1, true, 300, 100), confirmed))
	got := KeysToConfirm(Evaluate(env(), []inventory.Account{*a}, nil).Findings)
	if ids := got["123456789012"]; len(ids) != 1 || ids[0] != k1 {
		t.Errorf("KeysToConfirm = %v, want only the unconfirmed %s", got, k1)
	}
}

func TestCatalogueMatchesDesign(t *testing.T) {
	want := map[string]Severity{
		"root-access-key": Critical, "key-rotation": Medium, "key-unused": Medium, "key-setup-unused": Low,
		"key-two-active": Medium, "key-inactive": Low, "key-without-mfa": High, "key-long-term": Medium, "key-foreign-account": High,
	}
	cat := Catalogue()
	if len(cat) != len(want) {
		t.Fatalf("%d rules, want %d", len(cat), len(want))
	}
	for _, r := range cat {
		if want[r.ID] != r.Severity {
			t.Errorf("%s: severity %q, want %q", r.ID, r.Severity, want[r.ID])
		}
		if (r.Check == nil) == (r.CheckSighting == nil) {
			t.Errorf("%s: exactly one of Check and CheckSighting must be set", r.ID)
		}
		if r.Threshold != "" && Defaults().Thresholds.Get(r.Threshold) == 0 && r.Threshold != "rotation_overlap_days" {
			t.Errorf("%s: threshold %q has no default", r.ID, r.Threshold)
		}
	}
}

func planText(f Finding) string {
	var b strings.Builder
	for _, s := range f.RotationPlan {
		b.WriteString(s.Action + "\n  " + s.Command + "\n")
	}
	return b.String()
}

func TestExampleConfigParses(t *testing.T) {
	cfg, err := LoadConfig("../testdata/config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Suppressions) != 2 || cfg.Thresholds != Defaults().Thresholds {
		t.Errorf("config = %+v", cfg)
	}
}
