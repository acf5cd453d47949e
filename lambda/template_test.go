package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/keyaudit/keyaudit/report"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// node is a YAML node with lookups by key; CloudFormation's short tags
// (!Ref, !Sub, !If …) parse as tagged nodes and need no special care.
type node struct{ *yaml.Node }

func (n node) get(path ...string) node {
	cur := n.Node
	for _, key := range path {
		if cur == nil || cur.Kind != yaml.MappingNode {
			return node{}
		}
		var next *yaml.Node
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == key {
				next = cur.Content[i+1]
			}
		}
		cur = next
	}
	return node{cur}
}

func (n node) str() string {
	if n.Node == nil {
		return ""
	}
	return n.Value
}

// strings returns a scalar as one string, or a sequence's scalars.
func (n node) strings() []string {
	switch {
	case n.Node == nil:
		return nil
	case n.Kind == yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
		return out
	}
	return []string{n.Value}
}

func parseYAML(t *testing.T, data []byte) node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse template: %v", err)
	}
	return node{doc.Content[0]}
}

func template(t *testing.T) node {
	t.Helper()
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return parseYAML(t, data)
}

// statements returns the statements of every policy document in a list of
// policies (a function's Policies, or a role's Policies).
func actions(statements []node) []string {
	var out []string
	for _, st := range statements {
		out = append(out, st.get("Action").strings()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// seq returns a sequence's items. An item that is a conditional
// (!If [Cond, value, !Ref AWS::NoValue]) counts as its value: the least
// privilege checks must see what the condition can grant.
func seq(n node) []node {
	var out []node
	if n.Node != nil {
		for _, c := range n.Content {
			if c.Tag == "!If" && len(c.Content) == 3 {
				c = c.Content[1]
			}
			out = append(out, node{c})
		}
	}
	return out
}

func roleStatements(role node) []node {
	var out []node
	for _, p := range seq(role.get("Properties", "Policies")) {
		out = append(out, seq(p.get("PolicyDocument", "Statement"))...)
	}
	return out
}

// sameSet fails naming what is extra and what is missing.
func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, a := range got {
		if !slices.Contains(want, a) {
			t.Errorf("%s grants %s, which the code does not call (audit/permissions.go)", what, a)
		}
	}
	for _, a := range want {
		if !slices.Contains(got, a) {
			t.Errorf("%s lacks %s, which the code calls", what, a)
		}
	}
}

// impliedActions are granted although the code calls no such API: S3
// needs them to serve the calls it does make.
var impliedActions = map[string]string{
	"s3:ListBucket":       "GetObject on a missing latest.json answers 404, not 403",
	"kms:GenerateDataKey": "PutObject into a bucket encrypted with a customer KMS key",
	"kms:Decrypt":         "GetObject from it",
}

func functionStatements(tpl node) []node {
	var out []node
	for _, p := range seq(tpl.get("Resources", "KeyAuditFunction", "Properties", "Policies")) {
		out = append(out, seq(p.get("Statement"))...)
	}
	return out
}

func TestTemplateGrantsExactlyTheActionsTheCodeCalls(t *testing.T) {
	tpl := template(t)
	fnStatements := functionStatements(tpl)
	want := slices.Clone(audit.AuditorActions)
	// Granted only with SecurityHub=Enabled: see TestTemplateSecurityHub.
	want = append(want, report.SecurityHubActions...)
	for a := range impliedActions {
		want = append(want, a)
	}
	sameSet(t, "the function role", actions(fnStatements), want)
	for _, st := range fnStatements {
		if slices.Contains(st.get("Action").strings(), "sts:AssumeRole") {
			if res := st.get("Resource").str(); !strings.HasSuffix(res, ":role/${MemberRoleName}") {
				t.Errorf("sts:AssumeRole is granted on %q, want only the member role", res)
			}
		}
	}

	body := tpl.get("Resources", "MemberRoleStackSet", "Properties", "TemplateBody").str()
	member := parseYAML(t, []byte(body)).get("Resources", "KeyAuditRole")
	sameSet(t, "the member role (StackSet)", actions(roleStatements(member)), audit.MemberActions)
	mgmt := tpl.get("Resources", "ManagementAccountMemberRole")
	sameSet(t, "the member role (management account)", actions(roleStatements(mgmt)), audit.MemberActions)

	for name, role := range map[string]node{"StackSet member role": member, "management member role": mgmt} {
		trust := seq(role.get("Properties", "AssumeRolePolicyDocument", "Statement"))
		if len(trust) != 1 || trust[0].get("Condition", "StringEquals", "sts:ExternalId").Node == nil {
			t.Errorf("%s: trust must be one statement requiring the external ID", name)
		}
	}
}

func TestTemplateFunction(t *testing.T) {
	fn := template(t).get("Resources", "KeyAuditFunction")
	for path, want := range map[string]string{
		"Properties.Runtime":                                "provided.al2023",
		"Properties.Handler":                                "bootstrap",
		"Metadata.BuildMethod":                              "makefile",
		"Properties.Events.Nightly.Type":                    "ScheduleV2",
		"Properties.EventInvokeConfig.MaximumRetryAttempts": "0",
	} {
		if got := fn.get(strings.Split(path, ".")...).str(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if arch := fn.get("Properties", "Architectures").strings(); !slices.Equal(arch, []string{"arm64"}) {
		t.Errorf("architectures %v, want arm64", arch)
	}
}

func TestTemplateBucketProtections(t *testing.T) {
	tpl := template(t)
	b := tpl.get("Resources", "ReportsBucket", "Properties")
	sse := seq(b.get("BucketEncryption", "ServerSideEncryptionConfiguration"))
	require.NotEmpty(t, sse, "the bucket has a default encryption")
	alg := sse[0].get("ServerSideEncryptionByDefault", "SSEAlgorithm")
	assert.Equal(t, []string{"HasKmsKey", "aws:kms", "AES256"}, alg.strings(), "the bucket uses the optional KMS key, else SSE-S3")
	assert.Contains(t, sse[0].get("ServerSideEncryptionByDefault", "KMSMasterKeyID").strings(), "ReportsKmsKeyArn", "the KMS key is the parameter's")
	if b.get("VersioningConfiguration", "Status").str() != "Enabled" {
		t.Error("bucket versioning is not enabled")
	}
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if b.get("PublicAccessBlockConfiguration", k).str() != "true" {
			t.Errorf("public access block %s is not true", k)
		}
	}
	rules := seq(b.get("LifecycleConfiguration", "Rules"))
	if len(rules) == 0 || rules[0].get("ExpirationInDays").Node == nil {
		t.Error("no lifecycle rule expires old reports")
	}
	tls := false
	for _, st := range seq(tpl.get("Resources", "ReportsBucketPolicy", "Properties", "PolicyDocument", "Statement")) {
		if st.get("Effect").str() == "Deny" && st.get("Condition", "Bool", "aws:SecureTransport").str() == "false" {
			tls = true
		}
	}
	if !tls {
		t.Error("the bucket policy does not deny requests without TLS")
	}
}

// Issue 9 observation 12: from a delegated administrator the StackSet must
// be created with CallAs DELEGATED_ADMIN, and each account must get exactly
// one member role: the stack's own copy only in the management account,
// which the service-managed StackSet never reaches.
func TestTemplateDeploysFromManagementOrDelegatedAdmin(t *testing.T) {
	tpl := template(t)
	param := tpl.get("Parameters", "StackSetCallAs")
	assert.Equal(t, "SELF", param.get("Default").str(), "deploying in the management account stays the default")
	assert.ElementsMatch(t, []string{"SELF", "DELEGATED_ADMIN"}, param.get("AllowedValues").strings(), "CallAs takes the API's values")
	assert.Equal(t, "StackSetCallAs", tpl.get("Resources", "MemberRoleStackSet", "Properties", "CallAs").str(), "the StackSet is created as the deploying account is")

	cond := tpl.get("Resources", "ManagementAccountMemberRole", "Condition").str()
	require.NotEmpty(t, cond, "the stack's own member role is conditional: from a delegated administrator it collides with the StackSet's")
	eq := tpl.get("Conditions", cond)
	assert.Equal(t, "!Equals", eq.Tag, "condition %s", cond)
	assert.Equal(t, []string{"StackSetCallAs", "SELF"}, eq.strings(), "condition %s holds only when deployed in the management account", cond)
	assert.NotEmpty(t, tpl.get("Outputs", "ManagementAccountRole", "Value").Node, "an output tells a delegated administrator how the management account gets its role")
}

// Issue 9 observation 12: a hierarchical parameter name (/keyaudit/config)
// must not become parameter//keyaudit/config in the granted ARN.
func TestTemplateConfigParameterARN(t *testing.T) {
	tpl := template(t)
	var resource node
	for _, st := range functionStatements(tpl) {
		if st.get("Sid").str() == "Config" {
			resource = st.get("Resource")
		}
	}
	require.Equal(t, "!If", resource.Tag, "the Config statement's resource depends on whether a parameter is named")
	given := node{resource.Content[1]}
	require.Equal(t, "!If", given.Tag, "a named parameter's ARN depends on its form (leading slash or not)")
	require.Len(t, given.Content, 3, "the ARN's !If has a condition and two branches")
	cond := given.Content[0].Value
	// The condition must be true exactly for names with a leading slash.
	split := tpl.get("Conditions", cond)
	require.Equal(t, "!Equals", split.Tag, "condition %s", cond)
	require.Len(t, split.Content, 2, "condition %s compares two values", cond)
	assert.Equal(t, "!Select", split.Content[0].Tag, "condition %s selects the text before the first slash", cond)
	assert.Equal(t, "", split.Content[1].Value, "condition %s: that text is empty for a hierarchical name", cond)
	for _, tc := range []struct {
		branch int
		name   string
	}{{1, "/keyaudit/config"}, {2, "keyaudit-config"}} {
		arn := strings.ReplaceAll(given.Content[tc.branch].Value, "${ConfigParameterName}", tc.name)
		want := ":parameter/" + strings.TrimPrefix(tc.name, "/")
		assert.True(t, strings.HasSuffix(arn, want), "parameter %s: ARN %s, want it to end in %s", tc.name, arn, want)
	}
}

// Issue 10 observation 19: someone hears of a failed or missing run, runs
// never overlap, the member role is assumed only inside the organization,
// and only the function writes reports.
func TestTemplateOperations(t *testing.T) {
	tpl := template(t)
	res := tpl.get("Resources")
	assert.Equal(t, "AWS::SNS::Topic", res.get("AlarmTopic", "Type").str(), "an alarm topic exists")
	sub := res.get("AlarmEmailSubscription")
	assert.Equal(t, "email", sub.get("Properties", "Protocol").str(), "the optional subscription is by email")
	assert.Equal(t, "AlarmEmail", sub.get("Properties", "Endpoint").str(), "to the AlarmEmail parameter")
	assert.NotEmpty(t, sub.get("Condition").str(), "only when an address is given")

	for _, alarm := range []string{"FunctionErrorsAlarm", "NoSuccessfulRunAlarm"} {
		assert.Equal(t, []string{"AlarmTopic"}, res.get(alarm, "Properties", "AlarmActions").strings(), "%s notifies the topic", alarm)
	}
	missing := res.get("NoSuccessfulRunAlarm", "Properties")
	hours := 0
	for _, m := range seq(missing.get("Metrics")) {
		if p := m.get("MetricStat", "Period").str(); p != "" {
			assert.Equal(t, "3600", p, "NoSuccessfulRunAlarm counts per hour")
		}
	}
	if n, err := strconv.Atoi(missing.get("EvaluationPeriods").str()); assert.NoError(t, err, "NoSuccessfulRunAlarm evaluation periods") {
		hours = n
	}
	assert.Equal(t, 26, hours, "NoSuccessfulRunAlarm looks back 26 hours")
	assert.Equal(t, missing.get("EvaluationPeriods").str(), missing.get("DatapointsToAlarm").str(), "NoSuccessfulRunAlarm fires only when every hour lacked a success")
	assert.Equal(t, "breaching", missing.get("TreatMissingData").str(), "NoSuccessfulRunAlarm: no data (no run at all) is a missing run")

	fn := res.get("KeyAuditFunction", "Properties")
	assert.Equal(t, "1", fn.get("ReservedConcurrentExecutions").str(), "runs never overlap")
	onFailure := fn.get("EventInvokeConfig", "DestinationConfig", "OnFailure")
	assert.Equal(t, "SNS", onFailure.get("Type").str(), "a failed invocation goes to the topic")
	assert.Equal(t, "AlarmTopic", onFailure.get("Destination").str(), "a failed invocation goes to the topic")

	for _, st := range functionStatements(tpl) {
		if slices.Contains(st.get("Action").strings(), "sts:AssumeRole") {
			assert.Equal(t, "${aws:PrincipalOrgID}", st.get("Condition", "StringEquals", "aws:ResourceOrgID").str(),
				"sts:AssumeRole is limited to roles in the function's own organization")
		}
	}

	var writers node
	for _, st := range seq(res.get("ReportsBucketPolicy", "Properties", "PolicyDocument", "Statement")) {
		if st.get("Effect").str() == "Deny" && slices.Contains(st.get("Action").strings(), "s3:PutObject") {
			writers = st
		}
	}
	require.NotNil(t, writers.Node, "the bucket policy denies writes to everyone but the function")
	assert.Equal(t, "*", writers.get("Principal").str(), "the write denial covers every principal")
	assert.Equal(t, []string{"KeyAuditFunctionRole.Arn"}, writers.get("Condition", "ArnNotEquals", "aws:PrincipalArn").strings(), "except the function's role")
	assert.Contains(t, writers.get("Action").strings(), "s3:DeleteObject", "removing a report is writing too")
}

// cfn-lint (with the SAM translator) must find nothing in the template or
// in the StackSet's embedded template: no error, no warning.
func TestTemplateCfnLint(t *testing.T) {
	moto.Require(t, "cfn-lint")
	body := template(t).get("Resources", "MemberRoleStackSet", "Properties", "TemplateBody").str()
	require.NotEmpty(t, body, "the StackSet's template is inline")
	member := filepath.Join(t.TempDir(), "member-role.yaml")
	require.NoError(t, os.WriteFile(member, []byte(body), 0o600), "extract the StackSet's template")
	for _, file := range []string{"../template.yaml", member} {
		out, err := exec.Command("cfn-lint", "--format", "parseable", file).CombinedOutput()
		assert.NoError(t, err, "cfn-lint %s reports:\n%s", filepath.Base(file), out)
	}
}

// TestTemplateSecurityHub: the SecurityHub parameter turns the sink on in
// the function's environment and grants exactly the actions the sink calls,
// on this account's default product and hub, and nothing when disabled.
func TestTemplateSecurityHub(t *testing.T) {
	tpl := template(t)
	param := tpl.get("Parameters", "SecurityHub")
	assert.Equal(t, "Disabled", param.get("Default").str(), "the sink is off by default")
	assert.Equal(t, []string{"Enabled", "Disabled"}, param.get("AllowedValues").strings(), "allowed values of SecurityHub")
	cond := tpl.get("Conditions", "SecurityHubEnabled")
	require.NotNil(t, cond.Node, "condition SecurityHubEnabled")
	assert.Equal(t, "!Equals", cond.Tag, "SecurityHubEnabled is an equality")
	assert.Equal(t, []string{"SecurityHub", "Enabled"}, cond.strings(), "SecurityHubEnabled compares the parameter with Enabled")
	env := tpl.get("Resources", "KeyAuditFunction", "Properties", "Environment", "Variables", "KEYAUDIT_SECURITY_HUB")
	assert.Equal(t, []string{"SecurityHubEnabled", "true", "false"}, env.strings(), "KEYAUDIT_SECURITY_HUB follows the condition")

	resources := map[string]string{
		"securityhub:BatchImportFindings": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default",
		"securityhub:BatchUpdateFindings": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default",
	}
	var granted []string
	for _, p := range seq(tpl.get("Resources", "KeyAuditFunction", "Properties", "Policies")) {
		for _, st := range p.get("Statement").Content {
			conditional := st.Tag == "!If" && len(st.Content) == 3
			if conditional {
				st = st.Content[1]
			}
			for _, a := range (node{st}).get("Action").strings() {
				want, ok := resources[a]
				if !ok {
					continue
				}
				granted = append(granted, a)
				assert.True(t, conditional, "%s is granted only under a condition", a)
				assert.Equal(t, want, (node{st}).get("Resource").str(), "resource of %s", a)
			}
		}
	}
	sameSet(t, "the function role with SecurityHub=Enabled", granted, report.SecurityHubActions)
}

// mapSettings are the values the tests give the Map's parameters when they
// render the state machine's definition.
var mapSettings = map[string]string{"MapConcurrency": "40", "MapToleratedFailurePercentage": "10"}

// definition renders the state machine's definition (a !Sub of JSON) with
// the Map's parameters as numbers and every other reference as its name.
func definition(t *testing.T, tpl node) map[string]any {
	t.Helper()
	sub := tpl.get("Resources", "AuditStateMachine", "Properties", "DefinitionString")
	require.Equal(t, "!Sub", sub.Tag, "the definition is a !Sub of JSON, so the Map's parameters substitute as numbers")
	text := regexp.MustCompile(`\$\{([^}]+)\}`).ReplaceAllStringFunc(sub.Value, func(ref string) string {
		name := strings.Trim(ref, "${}")
		if v, ok := mapSettings[name]; ok {
			return v
		}
		return name
	})
	var def map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &def), "the state machine's definition is JSON:\n%s", text)
	return def
}

// field walks a decoded JSON value by keys.
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
