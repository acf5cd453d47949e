package rules

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// actionsOf evaluates one account and returns its actions.
func actionsOf(t *testing.T, e Env, a *inventory.Account) []Action {
	t.Helper()
	return Evaluate(e, []inventory.Account{*a}, nil).Actions
}

// stepIndex is the index of the first step whose command contains s; -1 if none.
func stepIndex(plan []Step, s string) int {
	return slices.IndexFunc(plan, func(st Step) bool { return strings.Contains(st.Command, s) })
}

func commands(actions []Action) []string {
	var out []string
	for _, a := range actions {
		for _, s := range a.Plan {
			if s.Command != "" {
				out = append(out, s.Command)
			}
		}
	}
	return out
}

// Observation 1: ci-deploy (two active keys, the older over the age limit)
// got three contradicting plans, one starting with a create-access-key
// that IAM refuses; legacy-backup (old and unused) was told to rotate and
// to remove.
func TestOneActionPerKey(t *testing.T) {
	t.Run("two active keys", func(t *testing.T) {
		acts := actionsOf(t, env(), account(user("ci-deploy", key(k1, 1, true, 218, 1), key(k2, 2, true, 14, 2))))
		require.Len(t, acts, 1, "actions %+v", acts)
		a := acts[0]
		assert.Equal(t, k1, a.AccessKeyID)
		assert.Equal(t, []string{"key-rotation", "key-two-active"}, a.Rules)
		assert.Equal(t, Medium, a.Severity)
		assert.Equal(t, -1, stepIndex(a.Plan, "create-access-key"), "the plan creates a third key:\n%s", planText(a.Plan))
		confirm := stepIndex(a.Plan, "get-access-key-last-used --access-key-id "+k2)
		deactivate := stepIndex(a.Plan, "update-access-key --user-name ci-deploy --access-key-id "+k1+" --status Inactive")
		require.NotEqual(t, -1, confirm, "no step confirms the younger key in use:\n%s", planText(a.Plan))
		require.NotEqual(t, -1, deactivate, "no step deactivates the old key:\n%s", planText(a.Plan))
		assert.Less(t, confirm, deactivate, "the new key is confirmed after the old one is deactivated")
		assert.Contains(t, a.Summary, k2)
	})
	t.Run("two active keys, both unused", func(t *testing.T) {
		// Neither key may take over the other's applications when both go:
		// followed in either order, no plan may touch a key another deleted.
		acts := actionsOf(t, env(), account(user("ci-deploy", key(k1, 1, true, 218, 100), key(k2, 2, true, 150, 90))))
		require.Len(t, acts, 2, "actions %+v", acts)
		for _, a := range acts {
			other := k1
			if a.AccessKeyID == k1 {
				other = k2
			}
			assert.Contains(t, a.Rules, "key-unused", "key %s", a.AccessKeyID)
			assert.Equal(t, -1, stepIndex(a.Plan, other), "the plan for %s relies on %s, which the other plan deletes:\n%s", a.AccessKeyID, other, planText(a.Plan))
			assert.Equal(t, -1, stepIndex(a.Plan, "create-access-key"), "an unused key is replaced:\n%s", planText(a.Plan))
		}
	})
	t.Run("young second key within a grace period", func(t *testing.T) {
		e := env()
		e.Config.Thresholds.RotationOverlapDays = 30
		acts := actionsOf(t, e, account(user("ci-deploy", key(k1, 1, true, 218, 1), key(k2, 2, true, 14, 2))))
		require.Len(t, acts, 1, "actions %+v", acts)
		assert.Equal(t, []string{"key-rotation"}, acts[0].Rules)
		assert.Equal(t, -1, stepIndex(acts[0].Plan, "create-access-key"), "the plan creates a third key:\n%s", planText(acts[0].Plan))
		assert.NotEqual(t, -1, stepIndex(acts[0].Plan, "get-access-key-last-used --access-key-id "+k2), "the young key is not the replacement")
	})
	t.Run("old and unused", func(t *testing.T) {
		acts := actionsOf(t, env(), account(user("legacy-backup", key(k1, 1, true, 500, 65))))
		require.Len(t, acts, 1, "actions %+v", acts)
		assert.Equal(t, []string{"key-rotation", "key-unused"}, acts[0].Rules)
		assert.Equal(t, -1, stepIndex(acts[0].Plan, "create-access-key"), "an unused key is rotated:\n%s", planText(acts[0].Plan))
		assert.NotEqual(t, -1, stepIndex(acts[0].Plan, "delete-access-key --user-name legacy-backup --access-key-id "+k1))
	})
	t.Run("old and used, alone", func(t *testing.T) {
		acts := actionsOf(t, env(), account(user("bob", key(k1, 1, true, 200, 1))))
		require.Len(t, acts, 1)
		plan := acts[0].Plan
		create := stepIndex(plan, "aws iam create-access-key --user-name bob")
		confirmNew := stepIndex(plan, "get-access-key-last-used --access-key-id "+NewKeyID)
		deactivate := stepIndex(plan, "--access-key-id "+k1+" --status Inactive")
		require.True(t, create > 0 && confirmNew > create && deactivate > confirmNew,
			"want create, confirm the new key in use, deactivate the old, in that order:\n%s", planText(plan))
	})
}

// Observation 2: an inactive second key is deleted only after it is
// checked idle and past its rollback wait, and only once.
func TestRotationWithAnInactiveSecondKey(t *testing.T) {
	t.Run("past its wait: its own plan deletes it first", func(t *testing.T) {
		acts := actionsOf(t, env(), account(user("svc", key(k1, 1, true, 200, 1), key(k2, 2, false, 400, 300))))
		require.Len(t, acts, 2, "actions %+v", acts)
		assert.Equal(t, k2, acts[0].AccessKeyID, "the plan that frees the slot comes first")
		assert.Equal(t, []string{"key-inactive"}, acts[0].Rules)
		check := stepIndex(acts[0].Plan, "get-access-key-last-used --access-key-id "+k2)
		del := stepIndex(acts[0].Plan, "delete-access-key --user-name svc --access-key-id "+k2)
		assert.True(t, check > 0 && del > check, "the inactive key is deleted before it is checked idle:\n%s", planText(acts[0].Plan))

		rot := acts[1].Plan
		assert.Equal(t, -1, stepIndex(rot, "delete-access-key --user-name svc --access-key-id "+k2), "the inactive key is deleted by two plans")
		slot := stepIndex(rot, "length(AccessKeyMetadata)")
		assert.True(t, slot > 0 && slot < stepIndex(rot, "create-access-key"), "no slot check before the create:\n%s", planText(rot))
	})
	t.Run("rollback key in its wait", func(t *testing.T) {
		acts := actionsOf(t, env(), account(user("svc", key(k1, 1, true, 200, 1), key(k2, 2, false, 100, 10))))
		require.Len(t, acts, 1, "actions %+v", acts)
		plan := acts[0].Plan
		check := stepIndex(plan, "get-access-key-last-used --access-key-id "+k2)
		wait := slices.IndexFunc(plan, func(s Step) bool { return strings.Contains(s.Action, "until 2026-12-15") && s.Command == "" })
		del := stepIndex(plan, "delete-access-key --user-name svc --access-key-id "+k2)
		create := stepIndex(plan, "create-access-key")
		// Observation 11 of issue 19: the idle check ran before the wait and
		// not again before the delete.
		assert.True(t, wait > 0 && check > wait && del == check+1 && create > del,
			"want: wait out the rollback period, check idle, delete at once, then create:\n%s", planText(plan))
	})
	t.Run("two old active keys", func(t *testing.T) {
		acts := actionsOf(t, env(), account(user("svc", key(k1, 1, true, 400, 1), key(k2, 2, true, 200, 1))))
		require.Len(t, acts, 2, "actions %+v", acts)
		assert.Equal(t, k1, acts[0].AccessKeyID, "the older key is retired first")
		assert.Equal(t, -1, stepIndex(acts[0].Plan, "create-access-key"))
		assert.NotEqual(t, -1, stepIndex(acts[0].Plan, "get-access-key-last-used --access-key-id "+k2))
		slot, create := stepIndex(acts[1].Plan, "length(AccessKeyMetadata)"), stepIndex(acts[1].Plan, "create-access-key")
		assert.True(t, slot > 0 && create > slot, "the newer key's rotation does not wait for a free slot:\n%s", planText(acts[1].Plan))
	})
}

// Observation 2: offline reports name slots, not IDs; plans never guess
// which key a slot is.
func TestOfflinePlansSelectKeysByStatusAndDate(t *testing.T) {
	old, rollback := key("", 1, true, 200, 1), key("", 2, false, 100, 60)
	acts := actionsOf(t, env(), account(user("svc", old, rollback)))
	require.Len(t, acts, 2)
	for _, a := range acts {
		text := planText(a.Plan)
		assert.NotContains(t, text, "older key is slot", "slot guessed")
		assert.NotContains(t, text, "<KEY-", "placeholder instead of a selection")
		for _, s := range a.Plan {
			if !strings.Contains(s.Command, "--access-key-id") || strings.Contains(s.Command, NewKeyID) {
				continue
			}
			assert.Contains(t, s.Command, `list-access-keys --user-name svc --query "AccessKeyMetadata[?Status==`, "step %q", s.Action)
			assert.Contains(t, s.Command, "CreateDate<'", "step %q", s.Action)
			if strings.HasPrefix(s.Command, "aws iam delete-access-key") {
				assert.Contains(t, s.Command, "Status=='Inactive'", "a delete selects an active key: %s", s.Command)
			}
		}
	}
	assert.Equal(t, `aws iam list-access-keys --user-name svc --query "AccessKeyMetadata[?Status=='Inactive' && CreateDate<'2026-08-16T12:00:01' && CreateDate>='2026-05-08T12:00:01'].AccessKeyId" --output text`,
		listKeyCommand(&inventory.User{Name: "svc", Keys: []inventory.Key{old, rollback}}, &rollback, "Inactive"),
		"the newer key's selection excludes the older key")
}

// Observation 3: every plan names its account and starts with a guard;
// CloudTrail commands carry --region, in the key's partition.
func TestPlansNameTheirAccount(t *testing.T) {
	a := account(user("terraform", key(k1, 1, true, 200, 1)), console(user("bob", key(k2, 1, true, 10, 1)), false),
		user("gone", key("AKIAAAAAAAAAAAAAAAA3", 1, false, 400, 300)))
	acts := actionsOf(t, env(), a)
	require.Len(t, acts, 3)
	for _, act := range acts {
		require.NotEmpty(t, act.Plan, "action %s", act.Principal)
		assert.Equal(t, `test "$(aws sts get-caller-identity --query Account --output text)" = 123456789012`, act.Plan[0].Command, "action %s", act.Principal)
		assert.Contains(t, act.Plan[0].Action, "123456789012 (prod)", "action %s", act.Principal)
		for _, s := range act.Plan {
			if strings.HasPrefix(s.Command, "aws cloudtrail") {
				assert.Contains(t, s.Command, "--region ", "action %s", act.Principal)
			}
		}
	}
}

func TestTrailRegionsArePartitionAware(t *testing.T) {
	tests := []struct {
		arn, lastUsed string
		want          []string
	}{
		{"arn:aws:iam::123456789012:user/a", "", []string{"us-east-1"}},
		{"arn:aws:iam::123456789012:user/a", "eu-west-1", []string{"us-east-1", "eu-west-1"}},
		{"arn:aws:iam::123456789012:user/a", "N/A", []string{"us-east-1"}},
		{"arn:aws-cn:iam::123456789012:user/a", "cn-northwest-1", []string{"cn-north-1", "cn-northwest-1"}},
		{"arn:aws-us-gov:iam::123456789012:user/a", "us-gov-east-1", []string{"us-gov-west-1", "us-gov-east-1"}},
		{"arn:aws-us-gov:iam::123456789012:user/a", "us-east-1", []string{"us-gov-west-1"}},
		{"", "", []string{"us-east-1"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, trailRegions(tt.arn, tt.lastUsed), "case %s %s", tt.arn, tt.lastUsed)
	}
}

// Issue 19 observation 2: the root plan passed --user-name '<root_account>'
// (NoSuchEntity) and advised create-access-key for root. A root key is
// deleted, never created; the management account can delete a member's
// through centralized root access (aws sts assume-root).
func TestRootPlan(t *testing.T) {
	a := account()
	a.Root.Keys = []inventory.Key{key("", 1, true, 900, 3)}
	a.Root.Keys[0].LastUsed.Region = "eu-central-1"
	root := key("AKIAAAAAAAAAAAAAAAA7", 0, true, 900, 3)
	root.StatusUnknown = true
	e := env()
	e.Audited = map[string]bool{"123456789012": true}
	for _, leaked := range []bool{false, true} {
		res := Evaluate(e, []inventory.Account{*a}, []inventory.Sighting{{AccessKeyID: root.ID, Key: &root, Principal: inventory.RootName, Kind: inventory.KindLongTerm,
			OwnerAccount: "123456789012", OwnerName: "prod", Audited: true, Source: "argument 1", Leaked: leaked}})
		var rules []string
		for _, f := range res.Findings {
			rules = append(rules, f.Rule+" "+f.AccessKeyID)
		}
		want := []string{"root-access-key ", "root-access-key " + root.ID}
		if leaked {
			want = append(want, "key-leaked "+root.ID)
		}
		assert.ElementsMatch(t, want, rules, "leaked %v: whois on a root key raises root-access-key, not key-long-term", leaked)
		require.Len(t, res.Actions, 2, "leaked %v", leaked)
		for _, act := range res.Actions {
			text := planText(act.Plan)
			for _, s := range act.Plan {
				assert.NotContains(t, s.Command, "--user-name", "leaked %v: %s", leaked, s.Command)
				assert.NotContains(t, s.Command, "create-access-key", "leaked %v", leaked)
			}
			assume := stepIndex(act.Plan, "aws sts assume-root --region us-east-1 --target-principal 123456789012 --task-policy-arn arn=arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials ")
			del := stepIndex(act.Plan, "aws iam delete-access-key --access-key-id ")
			assert.True(t, assume >= 0 && del > assume, "leaked %v: delete through a root session:\n%s", leaked, text)
			assert.Contains(t, text, "sign in to account 123456789012 (prod) as the root user", "leaked %v", leaked)
			assert.Equal(t, leaked && act.AccessKeyID == root.ID, strings.Contains(act.Summary, "leaked"), "leaked %v: %s", leaked, act.Summary)
		}
		assert.NotEqual(t, -1, stepIndex(res.Actions[0].Plan, root.ID)+stepIndex(res.Actions[1].Plan, root.ID)+1, "the whois key is named by its ID")
	}
	noLeak := Evaluate(e, []inventory.Account{*a}, nil).Actions
	require.Len(t, noLeak, 1)
	assert.NotEqual(t, -1, stepIndex(noLeak[0].Plan, "--region eu-central-1"), "the lookups include the region of last use")
}

// Observation 4: a leaked key is deactivated at once, investigated from its
// first event and replaced; no key-long-term, no waiting for it to go idle,
// no "remove the key from standard input".
func TestLeakResponse(t *testing.T) {
	e := env()
	e.Audited = map[string]bool{"123456789012": true}
	active, inactive := key(k1, 1, true, 60, 1), key(k2, 1, false, 60, 40)
	tests := []struct {
		name     string
		s        inventory.Sighting
		severity Severity
	}{
		{"active", inventory.Sighting{AccessKeyID: k1, Key: &active, Principal: "ci"}, Critical},
		{"inactive", inventory.Sighting{AccessKeyID: k2, Key: &inactive, Principal: "ci"}, High},
		{"state unknown", inventory.Sighting{AccessKeyID: k1, Principal: "ci"}, Critical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			s.Source, s.Kind, s.OwnerAccount, s.OwnerName, s.Audited, s.Leaked = "standard input line 1", inventory.KindLongTerm, "123456789012", "prod", true, true
			s.PrincipalARN = "arn:aws:iam::123456789012:user/ci"
			res := Evaluate(e, nil, []inventory.Sighting{s})
			require.Len(t, res.Findings, 1, "case %s: findings %+v", tt.name, res.Findings)
			assert.Equal(t, "key-leaked", res.Findings[0].Rule, "case %s", tt.name)
			assert.Equal(t, tt.severity, res.Findings[0].Severity, "case %s", tt.name)
			require.Len(t, res.Actions, 1, "case %s", tt.name)
			plan := res.Actions[0].Plan
			text := planText(plan)
			for _, banned := range []string{"standard input", "7 days", "idle"} {
				assert.NotContains(t, text, banned, "case %s", tt.name)
			}
			assert.Contains(t, text, "AWSCompromisedKeyQuarantineV3", "case %s", tt.name)
			assert.True(t, strings.HasPrefix(plan[0].Command, `test "$(aws sts get-caller-identity`), "case %s: no guard first", tt.name)
			// Issue 19 observation 4: every enabled region, not one or two.
			lookup := stepIndex(plan, `for region in $(aws ec2 describe-regions --region us-east-1 --query 'Regions[].RegionName' --output text); do`)
			require.NotEqual(t, -1, lookup, "case %s: no investigation from a start time:\n%s", tt.name, text)
			deactivate := slices.IndexFunc(plan, func(s Step) bool {
				return strings.Contains(s.Command+s.Action, "update-access-key --user-name") && strings.Contains(s.Command+s.Action, "--status Inactive")
			})
			assert.True(t, deactivate > 0 && deactivate < lookup, "case %s: deactivate comes after the investigation:\n%s", tt.name, text)
			// Observation 3: the quarantine policy on the user denies a new
			// key of the same user too: it comes off before the move.
			detach := stepIndex(plan, "aws iam detach-user-policy --user-name ci --policy-arn arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3")
			create := stepIndex(plan, "create-access-key --user-name ci")
			del := stepIndex(plan, "delete-access-key --user-name ci --access-key-id "+s.AccessKeyID)
			assert.True(t, del > lookup && detach > del && create > detach, "case %s: want investigate, delete, detach the quarantine policy, then create:\n%s", tt.name, text)
			if s.Key != nil {
				assert.Equal(t, "aws iam update-access-key --user-name ci --access-key-id "+s.AccessKeyID+" --status Inactive", plan[1].Command, "case %s", tt.name)
				assert.Contains(t, plan[lookup].Command, "--start-time 2026-09-25T12:00:00Z", "case %s: not from the key's creation", tt.name)
			}
		})
	}
}

func TestActionSeverityAndSuppression(t *testing.T) {
	a := account(console(user("bob", key(k1, 1, true, 200, 1)), false))
	cfg, err := ParseConfig("c.yaml", []byte("suppressions:\n  - rule: key-rotation\n    principal: bob\n    reason: INC-1\n"))
	require.NoError(t, err)
	e := env()
	e.Config = cfg
	acts := actionsOf(t, e, a)
	require.Len(t, acts, 1)
	assert.Equal(t, High, acts[0].Severity)
	assert.False(t, acts[0].Suppressed)
	assert.Equal(t, []string{"key-rotation", "key-without-mfa"}, acts[0].Rules)
	assert.Equal(t, -1, stepIndex(acts[0].Plan, "create-access-key"), "the suppressed rotation is planned")
	assert.NotEqual(t, -1, stepIndex(acts[0].Plan, "list-mfa-devices --user-name bob"))

	cfg, err = ParseConfig("c.yaml", []byte("suppressions:\n  - rule: key-rotation\n    principal: bob\n    reason: INC-1\n  - rule: key-without-mfa\n    principal: bob\n    reason: INC-2\n"))
	require.NoError(t, err)
	e.Config = cfg
	acts = actionsOf(t, e, a)
	require.Len(t, acts, 1)
	assert.True(t, acts[0].Suppressed)
	assert.Equal(t, High, acts[0].Severity, "a fully suppressed action keeps its worst severity")
}

// Every command is one line of valid shell, for the moto suite to run as written.
func TestPlanCommandsAreValidShell(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	a := account(
		user("ci", key("", 1, true, 218, 1), key("", 2, true, 14, 2)),
		user("bob smith", key(k1, 1, true, 200, 1), key(k2, 2, false, 100, 10)),
		console(user("o'brien", key("AKIAAAAAAAAAAAAAAAA3", 1, true, 100, 60)), false),
	)
	a.Root.Keys = []inventory.Key{key("", 1, true, 900, 3)}
	e := env()
	e.Audited = map[string]bool{"123456789012": true}
	leaked := key("AKIAAAAAAAAAAAAAAAA4", 1, true, 30, 1)
	res := Evaluate(e, []inventory.Account{*a}, []inventory.Sighting{
		{AccessKeyID: leaked.ID, Key: &leaked, Principal: "ci", OwnerAccount: "123456789012", Leaked: true, Kind: inventory.KindLongTerm, Source: "argument 1"},
		{AccessKeyID: "AKIAAAAAAAAAAAAAAAA5", OwnerAccount: "210987654321", Leaked: true, Kind: inventory.KindLongTerm, Source: "argument 2"},
	})
	cmds := commands(res.Actions)
	require.Greater(t, len(cmds), 20)
	for _, c := range cmds {
		assert.NotContains(t, c, "\n", "command spans lines")
		if strings.Contains(c, NewKeyID) {
			c = strings.ReplaceAll(c, NewKeyID, "AKIAAAAAAAAAAAAAAAA9")
		}
		out, err := exec.Command(bash, "-n", "-c", c).CombinedOutput()
		assert.NoError(t, err, "not valid shell: %s\n%s", c, out)
	}
}

// The selections that stand in for unknown key IDs pick exactly the key
// meant, as the AWS CLI evaluates them (JMESPath over IAM's ISO 8601
// times), for each status the key has at its step.
func TestOfflineSelectionsPickTheRightKey(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import jmespath").Run() != nil {
		t.Skip("python3 with jmespath (the AWS CLI's) not installed")
	}
	old, young := key("", 1, true, 200, 1), key("", 2, true, 100, 1)
	u := &inventory.User{Name: "svc", Keys: []inventory.Key{old, young}}
	// IAM prints creation times with or without fractions; the report's
	// last_rotated is truncated to the second.
	iam := func(k inventory.Key, id, status string, frac string) map[string]string {
		return map[string]string{"AccessKeyId": id, "Status": status, "CreateDate": k.CreatedAt.UTC().Format("2006-01-02T15:04:05") + frac + "Z"}
	}
	tests := []struct {
		name   string
		k      *inventory.Key
		status string
		keys   []map[string]string
		want   string
	}{
		{"older, both active", &u.Keys[0], "Active", []map[string]string{iam(old, "OLD", "Active", ".123"), iam(young, "YOUNG", "Active", "")}, "OLD"},
		{"younger, both active", &u.Keys[1], "Active", []map[string]string{iam(old, "OLD", "Active", ""), iam(young, "YOUNG", "Active", ".999")}, "YOUNG"},
		{"older, deactivated, a new key beside it", &u.Keys[0], "Inactive", []map[string]string{iam(old, "OLD", "Inactive", ""), {"AccessKeyId": "NEW", "Status": "Active", "CreateDate": now.Format(time.RFC3339)}}, "OLD"},
		{"older, both inactive", &u.Keys[0], "Inactive", []map[string]string{iam(old, "OLD", "Inactive", ""), iam(young, "YOUNG", "Inactive", "")}, "OLD"},
	}
	script := `import jmespath, json, sys; print(jmespath.search(sys.argv[1], json.loads(sys.argv[2])))`
	query := regexp.MustCompile(`--query "([^"]+)"`)
	for _, tt := range tests {
		m := query.FindStringSubmatch(listKeyCommand(u, tt.k, tt.status))
		require.Len(t, m, 2, "case %s", tt.name)
		doc, err := json.Marshal(map[string]any{"AccessKeyMetadata": tt.keys})
		require.NoError(t, err)
		out, err := exec.Command(python, "-c", script, m[1], string(doc)).CombinedOutput()
		require.NoError(t, err, "case %s: %s", tt.name, out)
		assert.Equal(t, "['"+tt.want+"']", strings.TrimSpace(string(out)), "case %s: query %s", tt.name, m[1])
	}
}

// TestTextsAreShared: a text that repeats across keys (a plan's guard, a
// rule's message, a ranking detail) is one copy in memory, whichever
// evaluation made it: a report of 10,000 accounts holds hundreds of
// thousands of them.
func TestTextsAreShared(t *testing.T) {
	// unique keeps one copy while a handle to it lives; the rules keep only
	// the strings, so a collection between two evaluations may make a
	// second copy (the sharing saves memory within a run, between its
	// collections). No collection runs during this test.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	a := account(user("terraform", key(k1, 1, true, 200, 1)), user("deploy", key(k2, 1, true, 200, 1)))
	first := Evaluate(env(), []inventory.Account{*a}, nil)
	again := Evaluate(env(), []inventory.Account{*a}, nil)
	require.Len(t, first.Actions, 2, "one action per key")
	same := func(x, y string, what string) {
		t.Helper()
		require.Equal(t, x, y, what)
		assert.Same(t, unsafe.StringData(x), unsafe.StringData(y), "%s: one copy in memory", what)
	}
	same(first.Actions[0].Plan[0].Action, first.Actions[1].Plan[0].Action, "the guard of two keys of one account")
	same(first.Actions[0].Plan[0].Command, again.Actions[0].Plan[0].Command, "a guard command made by two evaluations")
	same(first.Findings[0].Message, again.Findings[0].Message, "a finding's message made by two evaluations")
	same(first.Actions[0].Summary, again.Actions[0].Summary, "a plan's summary")

	ranked := Rank(env(), Defaults().Risk, []inventory.Account{*a}, first.Actions)
	require.Len(t, ranked, 2, "both keys ranked")
	age := func(r Risk) string {
		i := slices.IndexFunc(r.Factors, func(f Factor) bool { return f.ID == FactorAge90 })
		require.GreaterOrEqual(t, i, 0, "a 200-day-old key has the age factor: %+v", r.Factors)
		return r.Factors[i].Detail
	}
	same(age(ranked[0]), age(ranked[1]), "the age factor of two keys of one age")
}

// Issue 19 observation 1: a half-done rotation (the older key in daily
// use, the newer never used) got "retire the unused key, no new key is
// needed" on both keys, and followed, the key in use was deleted.
func TestHalfDoneRotationKeepsTheKeyInUse(t *testing.T) {
	tests := []struct {
		name          string
		older, newer  int
		rotate, keeps bool
	}{
		{"older past the age limit", 200, 60, true, false},
		{"older within the age limit", 80, 50, false, true},
	}
	for _, tt := range tests {
		acts := actionsOf(t, env(), account(user("job", key(k1, 1, true, tt.older, 1), key(k2, 2, true, tt.newer, -1))))
		require.Len(t, acts, 2, "case %s: actions %+v", tt.name, acts)
		assert.Equal(t, k2, acts[0].AccessKeyID, "case %s: the unused newer key's plan comes first", tt.name)
		assert.NotEqual(t, -1, stepIndex(acts[0].Plan, "delete-access-key --user-name job --access-key-id "+k2), "case %s", tt.name)
		old := acts[1]
		assert.Equal(t, k1, old.AccessKeyID, "case %s", tt.name)
		assert.Equal(t, -1, stepIndex(old.Plan, "get-access-key-last-used --access-key-id "+k2), "case %s: the key being retired is the replacement:\n%s", tt.name, planText(old.Plan))
		create, del := stepIndex(old.Plan, "create-access-key"), stepIndex(old.Plan, "delete-access-key --user-name job --access-key-id "+k1)
		if tt.rotate {
			slot, confirm := stepIndex(old.Plan, "length(AccessKeyMetadata)"), stepIndex(old.Plan, "get-access-key-last-used --access-key-id "+NewKeyID)
			assert.True(t, slot > 0 && create > slot && confirm > create && del > confirm, "case %s: want slot check, create, confirm the new key, delete the old:\n%s", tt.name, planText(old.Plan))
		}
		if tt.keeps {
			assert.Equal(t, -1, del, "case %s: the key in use is deleted:\n%s", tt.name, planText(old.Plan))
			assert.Equal(t, -1, create, "case %s", tt.name)
			assert.Contains(t, old.Summary, "Keep this key", "case %s", tt.name)
		}
	}
}

// Issue 19 observation 8: whois raised key-foreign-account on a role's
// unique ID, and key-long-term on any key ID given as an argument, though
// nothing stored it.
func TestWhoisMisfires(t *testing.T) {
	e := env()
	e.Audited = map[string]bool{"123456789012": true}
	res := Evaluate(e, nil, []inventory.Sighting{
		{AccessKeyID: "AROAAAAAAAAAAAAAAAA1", Kind: inventory.KindRole, OwnerAccount: "210987654321", Source: "argument 1", Error: "not an access key"},
		{AccessKeyID: k1, Kind: inventory.KindLongTerm, OwnerAccount: "123456789012", Audited: true, Principal: "ci", Source: "argument 2"},
		{AccessKeyID: k2, Kind: inventory.KindLongTerm, OwnerAccount: "123456789012", Audited: true, Principal: "ci", Source: "~/.aws/credentials [prod] line 2", Profile: "prod"},
	})
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Rule+" "+f.AccessKeyID)
	}
	assert.Equal(t, []string{"key-long-term " + k2}, got, "only the stored key is long-term; a role ID is no foreign key")
}
