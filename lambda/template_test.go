package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/audit"
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

func seq(n node) []node {
	var out []node
	if n.Node != nil {
		for _, c := range n.Content {
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

func TestTemplateGrantsExactlyTheActionsTheCodeCalls(t *testing.T) {
	tpl := template(t)
	fn := tpl.get("Resources", "KeyAuditFunction")
	var fnStatements []node
	for _, p := range seq(fn.get("Properties", "Policies")) {
		fnStatements = append(fnStatements, seq(p.get("Statement"))...)
	}
	sameSet(t, "the function role", actions(fnStatements), audit.AuditorActions)
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
	if alg := seq(b.get("BucketEncryption", "ServerSideEncryptionConfiguration")); len(alg) == 0 || alg[0].get("ServerSideEncryptionByDefault", "SSEAlgorithm").str() == "" {
		t.Error("bucket is not encrypted by default")
	}
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
