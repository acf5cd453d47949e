package report_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
)

// fixtureID is the stable id Security Hub and OCSF give the fixture's
// finding i: 0 the root key, 1 the rotation, 2 the suppressed disuse.
func fixtureID(i int) string { return "keyaudit-" + fixture().Findings[i].Fingerprint }

// ocsfEvents renders r and returns its events, each as generic JSON and as
// the schema validator reads it.
func ocsfEvents(t *testing.T, r *report.Report) ([]map[string]any, []any) {
	t.Helper()
	out := render(t, report.OCSFWriter{}, r)
	var events []map[string]any
	require.NoError(t, json.Unmarshal(out, &events), "OCSF output is a JSON array of objects")
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	require.NoError(t, err, "OCSF output parses")
	return events, inst.([]any)
}

func TestOCSFEventsMatchTheSchema(t *testing.T) {
	sch := golden.OCSFSchema(t)
	for name, r := range map[string]*report.Report{"fixture": fixture(), "with actions": reporttest.WithActions(fixture()), "empty": empty()} {
		events, inst := ocsfEvents(t, r)
		assert.Len(t, events, len(r.Findings), "case %s: one event per finding", name)
		for i, ev := range inst {
			assert.NoError(t, sch.Validate(ev), "case %s: event %d matches Detection Finding %s", name, i, report.OCSFVersion)
		}
	}
}

func TestOCSFSchemaRejectsBrokenEvents(t *testing.T) {
	sch := golden.OCSFSchema(t)
	breaks := map[string]func(ev map[string]any){
		"no finding uid":         func(ev map[string]any) { delete(ev["finding_info"].(map[string]any), "uid") },
		"unknown severity_id":    func(ev map[string]any) { ev["severity_id"] = 7 },
		"wrong class":            func(ev map[string]any) { ev["class_uid"] = 2003 },
		"compliance at the top":  func(ev map[string]any) { ev["compliance"] = map[string]any{"standards": []string{"CIS"}} },
		"time as a string":       func(ev map[string]any) { ev["time"] = "2026-11-24T00:00:00Z" },
		"no metadata version":    func(ev map[string]any) { delete(ev["metadata"].(map[string]any), "version") },
		"unknown resource field": func(ev map[string]any) { ev["resources"].([]any)[0].(map[string]any)["arn"] = "x" },
	}
	for name, brk := range breaks {
		events, _ := ocsfEvents(t, reporttest.WithActions(fixture()))
		brk(events[1])
		data, err := json.Marshal(events[1])
		require.NoError(t, err, "case %s", name)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		require.NoError(t, err, "case %s", name)
		assert.Error(t, sch.Validate(inst), "case %s: the schema rejects it", name)
	}
}

func TestOCSFFields(t *testing.T) {
	r := reporttest.WithActions(fixture())
	events, _ := ocsfEvents(t, r)
	require.Len(t, events, 3, "one event per finding")
	get := func(ev map[string]any, path ...string) any {
		var v any = ev
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v
	}
	root, rotation, suppressed := events[0], events[1], events[2]

	assert.Equal(t, fixtureID(1), get(rotation, "finding_info", "uid"), "uid from the fingerprint")
	assert.Equal(t, float64(asOf.UnixMilli()), get(rotation, "time"), "time is as_of in milliseconds")
	assert.Equal(t, float64(asOf.UnixMilli()), get(rotation, "finding_info", "created_time"), "created_time is as_of")
	assert.Equal(t, float64(200401), get(rotation, "type_uid"), "type_uid is class 2004, activity Create")
	assert.Equal(t, "1.6.0", get(rotation, "metadata", "version"), "OCSF version")
	assert.Equal(t, "keyaudit", get(rotation, "metadata", "product", "name"), "product")
	assert.Equal(t, "key-rotation", get(rotation, "metadata", "event_code"), "rule id as event code")
	assert.Equal(t, "111111111111", get(rotation, "cloud", "account", "uid"), "account")
	assert.Equal(t, "An active IAM user key is older than the limit: rotate it", get(rotation, "finding_info", "title"), "title from the catalogue")
	assert.Equal(t, []any{"Software and Configuration Checks/AWS Security Best Practices",
		"Industry and Regulatory Standards/CIS AWS Foundations Benchmark"}, get(rotation, "finding_info", "types"), "types")
	assert.Equal(t, map[string]any{"CIS-4.0.1": []any{"1.14"}, "CIS-5.0.0": []any{"1.13"}, "CIS-6.0.0": []any{"2.13"}},
		get(rotation, "unmapped", "compliance"), "CIS ids by benchmark version")

	resources := rotation["resources"].([]any)
	require.Len(t, resources, 2, "key and user")
	key, user := resources[0].(map[string]any), resources[1].(map[string]any)
	assert.Equal(t, "AwsIamAccessKey", key["type"], "key resource")
	assert.Equal(t, "AKIAAAAAAAAAAAAAAAA7", key["uid"], "key ID")
	assert.Equal(t, float64(asOf.AddDate(0, 0, -212).UnixMilli()), key["created_time"], "key creation")
	assert.Equal(t, "Active", get(key, "data", "status"), "key status")
	assert.Equal(t, "AwsIamUser", user["type"], "user resource")
	assert.Equal(t, "arn:aws:iam::111111111111:user/=cmd|calc", user["uid"], "user ARN")

	desc := get(rotation, "remediation", "desc").(string)
	assert.Contains(t, desc, fixture().Findings[1].Recommendation, "remediation has the recommendation")
	assert.Contains(t, desc, "1. Create the new key.\n   aws iam create-access-key --user-name '=cmd|calc'", "remediation has the plan's steps")
	assert.Len(t, get(rotation, "unmapped", "plan"), 2, "the plan's steps as data")

	for name, c := range map[string]struct {
		ev                   map[string]any
		severityID, statusID float64
		status               string
	}{
		"root (critical)":     {root, 5, 1, "New"},
		"rotation (medium)":   {rotation, 3, 1, "New"},
		"suppressed (medium)": {suppressed, 3, 3, "Suppressed"},
	} {
		assert.Equal(t, c.severityID, c.ev["severity_id"], "case %s: severity_id", name)
		assert.Equal(t, c.statusID, c.ev["status_id"], "case %s: status_id", name)
		assert.Equal(t, c.status, c.ev["status"], "case %s: status", name)
	}
	assert.Equal(t, "suppressed: mainframe retirement, INC-42 (until 2026-12-31)", suppressed["status_detail"], "suppression reason")
	assert.Nil(t, rotation["status_detail"], "no detail for an open finding")

	rootResources := root["resources"].([]any)
	require.Len(t, rootResources, 1, "a root key without ID: the user only")
	assert.Equal(t, "AwsIamUser", get(rootResources[0].(map[string]any), "type"), "root resource")
	assert.Equal(t, float64(1), get(rootResources[0].(map[string]any), "data", "key_slot"), "root key slot")
}

func TestOCSFGolden(t *testing.T) {
	golden.Assert(t, "ocsf/fixture.ocsf.json", render(t, report.OCSFWriter{}, reporttest.WithActions(fixture())))
	golden.Assert(t, "ocsf/empty.ocsf.json", render(t, report.OCSFWriter{}, empty()))
}
