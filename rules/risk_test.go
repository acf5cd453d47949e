package rules

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func perms(c inventory.Class, grant string) *inventory.Permissions {
	return &inventory.Permissions{Class: c, Grants: []string{grant}}
}

func withPerms(u inventory.User, p *inventory.Permissions) inventory.User {
	u.Permissions = p
	return u
}

func profiled(k inventory.Key, p inventory.Profile) inventory.Key {
	k.Profile = &p
	return k
}

func rid(n int) string { return fmt.Sprintf("AKIAEXAMPLE%09d", n) }

// riskScenario is the ranking's documented order: eleven keys whose
// factors are known, one account per concern where it matters.
func riskScenario() []inventory.Account {
	fromGroup := perms(inventory.ClassAdmin, `"*" on "*" via group admins: AdministratorAccess`)
	fromGroup.FromGroups = true
	capped := perms(inventory.ClassReadOnly, "capped by permissions boundary readers")
	capped.BoundaryCapped, capped.Boundary = true, "arn:aws:iam::123456789012:policy/readers"

	prod := account(
		// An administrator key used from many new public IPs, by a person.
		withPerms(user("ops-admin", profiled(key(rid(1), 1, true, 200, 0), inventory.Profile{Pages: 1, Events: 40,
			PublicIPs: []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "203.0.113.4", "203.0.113.5"},
			NewIPs:    []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "203.0.113.4"},
			Regions:   []string{"ap-southeast-1", "eu-west-1", "us-east-1"}, Human: []string{"aws-cli/2.15.0 Darwin/23"}})),
			perms(inventory.ClassAdmin, `"*" on "*" via AdministratorAccess`)),
		// A never-used privilege-escalation key.
		withPerms(user("deployer", profiled(key(rid(3), 1, true, 120, -1), inventory.Profile{})),
			perms(inventory.ClassEscalation, "iam:CreateAccessKey via keys")),
		// A user whose power comes only from a group.
		withPerms(user("bob", profiled(key(rid(4), 1, true, 30, 1), inventory.Profile{Pages: 1, Events: 3,
			AWSSources: []string{"10.0.1.9"}, Workload: []string{"aws-sdk-go-v2/1.30.3"}})), fromGroup),
		withPerms(user("analytics", profiled(key(rid(5), 1, true, 400, 2), inventory.Profile{Pages: 2, Events: 100, MoreUnread: true,
			PublicIPs: []string{"198.51.100.9", "203.0.113.9"}, Human: []string{"aws-cli/2.15.0 Windows/10"}})),
			perms(inventory.ClassData, `s3:GetObject on "*" via s3-read`)),
		withPerms(user("legacy-batch", key(rid(6), 1, true, 800, 200)), perms(inventory.ClassWrite, "sqs:SendMessage via batch")),
		withPerms(console(user("alice", profiled(key(rid(7), 1, true, 60, 3), inventory.Profile{Pages: 1, Events: 5,
			PublicIPs: []string{"198.51.100.20"}, Human: []string{"signin.amazonaws.com"}})), false),
			perms(inventory.ClassWrite, "ec2:StartInstances via ops")),
		// An old read-only key used only by one workload.
		withPerms(user("reporting", profiled(key(rid(8), 1, true, 700, 1), inventory.Profile{Pages: 2, Events: 100,
			AWSSources: []string{"10.0.0.5"}, Workload: []string{"aws-sdk-go-v2/1.30.3"}})),
			perms(inventory.ClassReadOnly, "read actions via ViewOnlyAccess")),
		user("mystery", key(rid(9), 1, true, 50, 1)), // policies not read
		withPerms(user("capped", key(rid(10), 1, true, 20, 1)), capped),
		withPerms(user("nobody", key(rid(11), 1, true, 10, 1)), perms(inventory.ClassNone, "")),
		// Inactive keys are not ranked.
		withPerms(user("retired", key(rid(12), 1, false, 900, 800)), perms(inventory.ClassAdmin, "x")),
	)
	prod.Root.Keys = []inventory.Key{key(rid(2), 1, true, 500, 10)}
	down := inventory.Account{ID: "210987654321", Status: inventory.StatusError, Error: "denied",
		Users: []inventory.User{user("ghost", key(rid(13), 1, true, 900, -1))}}
	return []inventory.Account{*prod, down}
}

func TestRiskScenarioOrder(t *testing.T) {
	accts := riskScenario()
	e := env()
	res := Evaluate(e, accts, nil)
	ranked := Rank(e, DefaultRisk(), accts, res.Actions)
	// The documented order (README, "Kill first"), score by score:
	want := []struct {
		principal string
		score     int
		factors   []string
	}{
		// 40 admin + 5 age + 4 rotation + 15 new IPs + 8 many IPs + 5 human + 3 regions
		{"ops-admin", 80, []string{FactorAdmin, FactorAge90, FactorMedium, FactorNewIPs, FactorManyIPs, FactorHuman, FactorRegions}},
		// 40 root + 10 age + 20 root-access-key critical; not profiled
		{inventory.RootName, 70, []string{FactorAdmin, FactorAgeYear, FactorCritical, FactorUnprofiled}},
		// 32 escalation + 5 age + 12 never used + 4 rotation/unused medium
		{"deployer", 53, []string{FactorEscalation, FactorAge90, FactorNeverUsed, FactorMedium}},
		// 40 admin through a group + 2 via group; a workload inside AWS
		{"bob", 42, []string{FactorAdmin, FactorViaGroup}},
		// 22 data + 10 age + 4 rotation + 5 human; read in part
		{"analytics", 41, []string{FactorData, FactorAgeYear, FactorMedium, FactorHuman, FactorUnprofiled}},
		// 12 write + 10 age + 8 unused + 4 medium
		{"legacy-batch", 34, []string{FactorWrite, FactorAgeYear, FactorUnused, FactorMedium, FactorUnprofiled}},
		// 12 write + 10 key-without-mfa high + 5 console
		{"alice", 27, []string{FactorWrite, FactorHigh, FactorHuman}},
		// 4 read-only + 10 age + 4 rotation; one workload
		{"reporting", 18, []string{FactorReadOnly, FactorAgeYear, FactorMedium}},
		{"mystery", 16, []string{FactorBlastGuess, FactorUnprofiled}},
		{"capped", 4, []string{FactorReadOnly, FactorUnprofiled}},
		{"nobody", 0, []string{FactorUnprofiled}},
	}
	require.Len(t, ranked, len(want), "every active key of the accounts audited ok")
	for i, w := range want {
		r := ranked[i]
		assert.Equal(t, w.principal, r.Principal, "rank %d", i+1)
		assert.Equal(t, i+1, r.Rank, "rank %d: number", i+1)
		assert.Equal(t, w.score, r.Score, "rank %d (%s): score; factors %+v", i+1, r.Principal, r.Factors)
		var ids []string
		for _, f := range r.Factors {
			ids = append(ids, f.ID)
		}
		assert.Equal(t, w.factors, ids, "rank %d (%s): factors", i+1, r.Principal)
	}
	assert.Equal(t, `administrator: "*" on "*" via AdministratorAccess; 4 public IP(s) first seen in the last 7 days; used from 5 public IPs`, ranked[0].Reason(), "reason of rank 1")
	assert.Equal(t, "administrator only through group membership", ranked[3].Factors[1].Detail, "bob's group factor")
	require.NotNil(t, ranked[5].StaleDays, "legacy-batch: stale days")
	assert.Equal(t, 200, *ranked[5].StaleDays, "legacy-batch: stale days")
	require.NotNil(t, ranked[2].StaleDays, "deployer: never used counts from creation")
	assert.Equal(t, 120, *ranked[2].StaleDays, "deployer: stale days")
}

func TestRiskWeightsChangeTheOrder(t *testing.T) {
	accts := riskScenario()
	e := env()
	rc := DefaultRisk()
	rc.Weights[FactorNeverUsed] = 60
	ranked := Rank(e, rc, accts, Evaluate(e, accts, nil).Actions)
	assert.Equal(t, "deployer", ranked[0].Principal, "case never-used weighted 60")
	assert.Equal(t, 101, ranked[0].Score, "case never-used weighted 60")
}

func TestProfileCandidates(t *testing.T) {
	accts := riskScenario()
	for i := range accts[0].Users {
		for k := range accts[0].Users[i].Keys {
			accts[0].Users[i].Keys[k].Profile = nil
		}
	}
	e := env()
	ranked := Rank(e, DefaultRisk(), accts, Evaluate(e, accts, nil).Actions)
	// Ranked without profiles: root (70), deployer (53), ops-admin (49), bob (42).
	assert.Equal(t, map[string][]string{"123456789012": {rid(2), rid(3), rid(1)}}, ProfileCandidates(ranked, 3), "case top 3 before profiles")
	assert.Empty(t, ProfileCandidates(ranked, 0), "case budget 0")
	notes := RiskNotes(ranked, DefaultRisk())
	require.Len(t, notes, 2, "case notes")
	assert.Contains(t, notes[0], "the service control policies along the account's path", "case scope note")
	assert.Contains(t, notes[0], "resource policies are out of scope", "case scope note")
	assert.Contains(t, notes[1], "CloudTrail profiled 0 of 11 keys", "case budget note")
}

// parseRisk reads a config file named k.yaml and returns its risk section.
func parseRisk(t *testing.T, data []byte) (RiskConfig, error) {
	t.Helper()
	cfg, err := ParseConfig("k.yaml", data)
	return cfg.Risk, err
}

func TestRiskSection(t *testing.T) {
	rc, err := parseRisk(t, []byte("cis_version: v6.0.0\nrisk:\n  trail_keys: 5\n  trail_pages: 3\n  weights:\n    never-used: 30\n"))
	require.NoError(t, err, "case valid")
	assert.Equal(t, 5, rc.TrailKeys, "case valid: K")
	assert.Equal(t, 3, rc.TrailPages, "case valid: N")
	assert.Equal(t, 30, rc.Weights[FactorNeverUsed], "case valid: weight")
	assert.Equal(t, 40, rc.Weights[FactorAdmin], "case valid: default weight kept")

	rc, err = parseRisk(t, nil)
	require.NoError(t, err, "case empty")
	assert.Equal(t, DefaultRisk(), rc, "case empty")

	bad := map[string]string{
		"risk:\n  weights:\n    bogus: 3\n":       `k.yaml:3: unknown risk factor "bogus"`,
		"risk:\n  trail_pages: 0\n":               "k.yaml:2: risk.trail_pages must be a whole number from 1 to 20",
		"risk:\n  weights:\n    age: x\n":         `unknown risk factor "age"`,
		"risk:\n  weights:\n    never-used: -1\n": "risk.weights.never-used must be a whole number from 0 to 100",
		"risk:\n  budget: 3\n":                    `k.yaml:2: unknown risk setting "budget"`,
	}
	for in, want := range bad {
		_, err := parseRisk(t, []byte(in))
		require.Error(t, err, "case %q", in)
		assert.Contains(t, err.Error(), want, "case %q", in)
	}
}

func TestFactorsAreUniqueAndUsed(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Factors() {
		assert.False(t, seen[f.ID], "case %s: listed twice", f.ID)
		seen[f.ID] = true
		assert.NotEmpty(t, f.Description, "case %s: described", f.ID)
	}
	assert.Len(t, DefaultWeights(), len(Factors()), "case every factor weighted")
}

// A profiled key with nothing against it still has a factor list: JSON null breaks
// the report schema (the Lambda's end-to-end test found it).
func TestRiskFactorsNeverNull(t *testing.T) {
	e := env()
	acct := inventory.Account{ID: "111111111111", Status: inventory.StatusOK, Users: []inventory.User{{
		Name: "quiet", ARN: "arn:aws:iam::111111111111:user/quiet", CreatedAt: e.Now.AddDate(0, 0, -10),
		Permissions: &inventory.Permissions{Class: inventory.ClassNone},
		Keys:        []inventory.Key{{ID: "AKIAAAAAAAAAAAAAAAA1", Slot: 1, Active: true, CreatedAt: e.Now.AddDate(0, 0, -10), LastUsed: inventory.LastUse{Known: true, At: e.Now}, Profile: &inventory.Profile{}}},
	}}}
	rc := DefaultRisk()
	for id := range rc.Weights {
		rc.Weights[id] = 0
	}
	ranked := Rank(e, rc, []inventory.Account{acct}, nil)
	require.Len(t, ranked, 1, "the key is ranked")
	assert.NotNil(t, ranked[0].Factors, "factors of a key with nothing against it")
	data, err := json.Marshal(ranked[0])
	require.NoError(t, err)
	assert.NotContains(t, string(data), `"factors":null`, "JSON form")
}

// Issue 22 item 6: on a tie in score the root key ranks first, whatever
// the accounts' order.
func TestOrderRootFirstOnTies(t *testing.T) {
	out := []Risk{
		{Score: 70, AccountID: "111111111111", Principal: "alice", AccessKeyID: "AKIAXA4A6GUKAXPOYXNF"},
		{Score: 70, AccountID: "222222222222", Principal: inventory.RootName, KeySlot: 1},
		{Score: 80, AccountID: "333333333333", Principal: "bob", AccessKeyID: "AKIA2YFQQ5J5CGOMJAGK"},
	}
	Order(out)
	got := []string{out[0].Principal, out[1].Principal, out[2].Principal}
	assert.Equal(t, []string{"bob", inventory.RootName, "alice"}, got, "the higher score first, then the root key among equals")
	assert.Equal(t, []int{1, 2, 3}, []int{out[0].Rank, out[1].Rank, out[2].Rank}, "ranks")
}
