package main

import (
	"cmp"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/moto"
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
// and Lambda need them to serve the calls it does make.
var impliedActions = map[string]string{
	"s3:ListBucket":        "GetObject on a missing latest.json answers 404, not 403 (and merge lists the Map's failures)",
	"kms:GenerateDataKey":  "PutObject into a bucket encrypted with a customer KMS key",
	"kms:Decrypt":          "GetObject from it, and a secret or parameter under a customer key",
	"logs:CreateLogStream": "Lambda writes the function's logs with its role",
	"logs:PutLogEvents":    "Lambda writes the function's logs with its role",
	"sns:Publish":          "Lambda sends a failed asynchronous invocation to the alarm topic with the function's role",
}

// functionStatements are the statements of the role both functions run as.
func functionStatements(tpl node) []node {
	return roleStatements(tpl.get("Resources", "KeyAuditFunctionRole"))
}

// functions are the template's Lambda functions by logical ID.
var functions = []string{"KeyAuditFunction", "AuditBatchFunction"}

// functionProperty is a function's property, or the Globals' when the
// function does not set it.
func functionProperty(tpl node, fn string, path ...string) node {
	if v := tpl.get(append([]string{"Resources", fn, "Properties"}, path...)...); v.Node != nil {
		return v
	}
	return tpl.get(append([]string{"Globals", "Function"}, path...)...)
}

func TestTemplateGrantsExactlyTheActionsTheCodeCalls(t *testing.T) {
	tpl := template(t)
	fnStatements := functionStatements(tpl)
	want := slices.Clone(audit.AuditorActions)
	// Granted only with SecurityHub=Enabled: see TestTemplateSecurityHub.
	want = append(want, deliver.SecurityHubActions...)
	for a := range impliedActions {
		want = append(want, a)
	}
	sameSet(t, "the function role", actions(fnStatements), want)
	for _, st := range fnStatements {
		if slices.Contains(st.get("Action").strings(), "sts:AssumeRole") {
			res := st.get("Resource").str()
			if !strings.HasSuffix(res, ":role/${MemberRoleName}") && res != "arn:${AWS::Partition}:iam::*:role/${AWS::StackName}-remediation" {
				t.Errorf("sts:AssumeRole is granted on %q, want only the member role and the remediation role", res)
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

// TestTemplateFunction: both functions are the one bootstrap binary, built
// by make, run as the one role the member roles trust.
func TestTemplateFunction(t *testing.T) {
	tpl := template(t)
	for _, fn := range functions {
		for path, want := range map[string]string{
			"Runtime": "provided.al2023",
			"Handler": "bootstrap",
			"CodeUri": ".",
			"Timeout": "900",
		} {
			assert.Equal(t, want, functionProperty(tpl, fn, path).str(), "%s: %s", fn, path)
		}
		assert.Equal(t, "makefile", tpl.get("Resources", fn, "Metadata", "BuildMethod").str(), "%s is built by make build-%s", fn, fn)
		assert.Equal(t, []string{"arm64"}, functionProperty(tpl, fn, "Architectures").strings(), "%s: architectures", fn)
		assert.Equal(t, "KeyAuditFunctionRole.Arn", functionProperty(tpl, fn, "Role").str(), "%s runs as the role the member roles trust", fn)
		assert.Nil(t, functionProperty(tpl, fn, "Policies").Node, "%s: no SAM-generated role, whose managed policy would grant every log group", fn)
		assert.Equal(t, "KeyAuditLogGroup", functionProperty(tpl, fn, "LoggingConfig", "LogGroup").str(), "%s logs to the stack's log group", fn)
	}
	fn := tpl.get("Resources", "KeyAuditFunction", "Properties")
	assert.Equal(t, "0", fn.get("EventInvokeConfig", "MaximumRetryAttempts").str(), "a failed night is not retried automatically")
	assert.Nil(t, fn.get("Events").Node, "the schedule is a resource of its own, so that it can target the state machine instead")
}

// TestTemplateSchedule: one nightly schedule starts the function, or in
// distributed mode the state machine, with a role that may do only that.
func TestTemplateSchedule(t *testing.T) {
	tpl := template(t)
	sched := tpl.get("Resources", "NightlySchedule")
	assert.Equal(t, "AWS::Scheduler::Schedule", sched.get("Type").str(), "the schedule's type")
	assert.Empty(t, sched.get("Condition").str(), "a schedule in either mode")
	target := sched.get("Properties", "Target")
	assert.Equal(t, []string{"Distributed", "AuditStateMachine", "KeyAuditFunction.Arn"}, target.get("Arn").strings(), "the schedule targets the state machine in distributed mode, else the function")
	assert.Equal(t, "{}", target.get("Input").str(), "the schedule's input")
	assert.Equal(t, "ScheduleExpression", sched.get("Properties", "ScheduleExpression").str(), "the schedule's expression is the parameter")

	st := seq(tpl.get("Resources", "ScheduleRole", "Properties", "Policies"))
	require.Len(t, st, 1, "one policy for the schedule's role")
	grant := st[0].get("PolicyDocument", "Statement")
	require.Len(t, grant.Content, 1, "one statement")
	choice := grant.Content[0]
	require.Equal(t, "!If", choice.Tag, "the schedule's grant depends on the mode")
	require.Len(t, choice.Content, 3, "the grant's !If")
	assert.Equal(t, "Distributed", choice.Content[0].Value, "the grant's condition")
	dist, single := node{choice.Content[1]}, node{choice.Content[2]}
	assert.Equal(t, []string{"states:StartExecution"}, dist.get("Action").strings(), "distributed: the schedule starts the state machine")
	assert.Equal(t, "AuditStateMachine", dist.get("Resource").str(), "distributed: only this state machine")
	assert.Equal(t, []string{"lambda:InvokeFunction"}, single.get("Action").strings(), "single: the schedule invokes the function")
	assert.Equal(t, []string{"KeyAuditFunction.Arn"}, single.get("Resource").strings(), "single: only this function")
}

// TestTemplateDistributedMode: Mode=distributed adds a state machine (and
// only then): a refusal to run beside another execution, discover, a
// Distributed Map reading the account list from S3 in batches, with the
// MaxConcurrency and tolerated failures of its parameters and its results
// in S3, then merge, also after a failed Map, whose failure then fails the
// execution; its role may invoke the functions, run the Map's child
// executions and use the runs prefix of the bucket, nothing more.
func TestTemplateDistributedMode(t *testing.T) {
	tpl := template(t)
	param := tpl.get("Parameters", "Mode")
	assert.Equal(t, "single", param.get("Default").str(), "one invocation stays the default")
	assert.Equal(t, []string{"single", "distributed"}, param.get("AllowedValues").strings(), "the modes")
	cond := tpl.get("Conditions", "Distributed")
	assert.Equal(t, "!Equals", cond.Tag, "condition Distributed")
	assert.Equal(t, []string{"Mode", "distributed"}, cond.strings(), "condition Distributed compares the parameter")

	res := tpl.get("Resources")
	for _, name := range []string{"AuditStateMachine", "StateMachineRole", "ExecutionFailedAlarm", "NoSuccessfulExecutionAlarm", "AuditBatchFunction", "SlowBatchAlarm"} {
		assert.Equal(t, "Distributed", res.get(name, "Condition").str(), "%s exists only in distributed mode", name)
	}
	assert.Equal(t, "Single", res.get("NoSuccessfulRunAlarm", "Condition").str(), "the function's no-run alarm only in single mode (discover and merge are not runs)")

	def := definition(t, tpl)
	states := field(def, "States")
	assert.Equal(t, "CheckNoOtherRun", field(def, "StartAt"), "the run first looks for another one running")
	assert.Equal(t, "Discover", field(states, "OtherRunRunning", "Default"), "alone, the run discovers its accounts")
	assert.Equal(t, "AuditAccounts", field(states, "Discover", "Next"), "discover, then the Map")
	assert.Equal(t, "$$.Execution.Input", field(states, "Discover", "Parameters", "Payload", "input.$"), "discover gets the execution's input (accounts, as_of)")
	m := field(states, "AuditAccounts")
	assert.Equal(t, "Map", field(m, "Type"), "the Map's type")
	assert.Equal(t, "DISTRIBUTED", field(m, "ItemProcessor", "ProcessorConfig", "Mode"), "a Distributed Map")
	assert.Equal(t, "arn:aws:states:::s3:getObject", field(m, "ItemReader", "Resource"), "the Map reads its items from S3")
	assert.Equal(t, "JSON", field(m, "ItemReader", "ReaderConfig", "InputType"), "a JSON array")
	assert.Equal(t, "$.accounts_key", field(m, "ItemReader", "Parameters", "Key.$"), "the list discover wrote")
	assert.Equal(t, 40.0, field(m, "MaxConcurrency"), "MaxConcurrency is the MapConcurrency parameter")
	assert.Equal(t, 10.0, field(m, "ToleratedFailurePercentage"), "tolerated failures are the MapToleratedFailurePercentage parameter")
	assert.Equal(t, "arn:aws:states:::s3:putObject", field(m, "ResultWriter", "Resource"), "the child results go to S3, never into the 256 KiB payload")
	assert.Equal(t, "$.map_prefix", field(m, "ResultWriter", "Parameters", "Prefix.$"), "under the run's prefix, where merge reads the failures")
	assert.Equal(t, "$.map", field(m, "ResultPath"), "the Map's output does not replace the run")
	assert.Equal(t, "Merge", field(m, "Next"), "the Map, then merge")

	// Issue 21 observation 6: a batch of accounts per child execution and
	// invocation, not one each.
	assert.Equal(t, 25.0, field(m, "ItemBatcher", "MaxItemsPerBatch"), "batches of MapBatchSize accounts")
	assert.Equal(t, map[string]any{"step": "accounts", "run.$": "$.run"}, field(m, "ItemBatcher", "BatchInput"), "each batch carries the step and the run")
	assert.Nil(t, field(m, "ItemSelector"), "the items are the accounts discover listed, as they are")
	child := field(m, "ItemProcessor", "States", field(m, "ItemProcessor", "StartAt").(string))
	assert.Equal(t, substitutions["AuditBatchFunction.Arn"], field(child, "Parameters", "FunctionName"), "a batch is audited by the batch function, with the batch's memory")
	assert.Equal(t, map[string]any{"step.$": "$.BatchInput.step", "run.$": "$.BatchInput.run", "targets.$": "$.Items"},
		field(child, "Parameters", "Payload"), "the batch function gets {step: accounts, run, targets: [accounts]}")

	// Issue 21 observation 6: a failed Map is merged (every account not
	// audited is reported), then fails the execution with the Map's error.
	catch, _ := field(m, "Catch").([]any)
	require.Len(t, catch, 1, "the Map catches its failure")
	assert.Equal(t, "Merge", field(catch[0], "Next"), "a failed Map (too many failed batches, a failed reader or writer) is merged too")
	assert.Equal(t, []any{"States.ALL"}, field(catch[0], "ErrorEquals"), "whatever the Map's error")
	assert.Equal(t, "$.map", field(catch[0], "ResultPath"), "the error takes the Map's result's place, where merge reads it")
	merge := field(states, "Merge")
	assert.Equal(t, "$.map", field(merge, "Parameters", "Payload", "map.$"), "merge is told how the Map ended")
	assert.Equal(t, "$.merged", field(merge, "ResultPath"), "merge's summary is kept beside the Map's outcome")
	after := field(states, field(merge, "Next").(string))
	assert.Equal(t, "Choice", field(after, "Type"), "after merge, the Map's outcome decides")
	choices, _ := field(after, "Choices").([]any)
	require.Len(t, choices, 1, "one choice after merge")
	assert.Equal(t, "$.map.Error", field(choices[0], "Variable"), "the Map's error")
	assert.Equal(t, true, field(choices[0], "IsPresent"), "when there is one")
	failed := field(states, field(choices[0], "Next").(string))
	assert.Equal(t, "Fail", field(failed, "Type"), "a failed Map fails the execution (ExecutionFailedAlarm)")
	assert.Equal(t, "$.map.Error", field(failed, "ErrorPath"), "with the Map's error")
	assert.Equal(t, "$.map.Cause", field(failed, "CausePath"), "and its cause")
	done := field(states, field(after, "Default").(string))
	assert.Equal(t, true, field(done, "End"), "a Map that succeeded ends the run")
	assert.Equal(t, "$.merged.summary", field(done, "OutputPath"), "with merge's summary as the execution's output")

	// Issue 21 observation 6: two executions would race on latest.json.
	check := field(states, "CheckNoOtherRun")
	assert.Equal(t, "arn:aws:states:::aws-sdk:sfn:listExecutions", field(check, "Resource"), "the running executions are listed")
	assert.Equal(t, map[string]any{"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 2.0}, field(check, "Parameters"), "of this state machine")
	assert.Equal(t, "States.ArrayLength($.Executions)", field(check, "ResultSelector", "running.$"), "and counted")
	assert.Equal(t, "OtherRunRunning", field(check, "Next"), "then judged")
	refuse, _ := field(states, "OtherRunRunning", "Choices").([]any)
	require.Len(t, refuse, 1, "one rule refuses")
	assert.Equal(t, map[string]any{"Variable": "$.overlap.running", "NumericGreaterThan": 1.0, "Next": "RefuseOverlappingRun"}, refuse[0], "more than this execution running: refuse")
	assert.Equal(t, "Fail", field(states, "RefuseOverlappingRun", "Type"), "a refused run fails, so the alarm says so")

	for name, task := range map[string]any{"Discover": field(states, "Discover"), "AuditBatch": child, "Merge": merge} {
		assert.Equal(t, "arn:aws:states:::lambda:invoke", field(task, "Resource"), "%s: Lambda's optimised integration", name)
		var throttling bool
		for _, r := range field(task, "Retry").([]any) {
			errs, _ := field(r, "ErrorEquals").([]any)
			throttling = throttling || slices.Contains(errs, any("Lambda.TooManyRequestsException"))
		}
		assert.True(t, throttling, "%s retries when Lambda throttles", name)
	}
	for _, name := range []string{"Discover", "Merge"} {
		assert.Equal(t, substitutions["KeyAuditFunction.Arn"], field(states, name, "Parameters", "FunctionName"), "%s runs in the function sized for the whole report", name)
	}

	// Issue 21 observation 6: merge's memory apart from the batches'.
	assert.Equal(t, "FunctionMemory", res.get("KeyAuditFunction", "Properties", "MemorySize").str(), "discover and merge hold the report: FunctionMemory")
	assert.Equal(t, "MapFunctionMemory", res.get("AuditBatchFunction", "Properties", "MemorySize").str(), "a batch: MapFunctionMemory")
	assert.Equal(t, "1", res.get("KeyAuditFunction", "Properties", "ReservedConcurrentExecutions").str(), "runs, discovers and merges never overlap")
	assert.Equal(t, "MapConcurrency", res.get("AuditBatchFunction", "Properties", "ReservedConcurrentExecutions").str(), "as many batches at once as the Map runs")

	role := res.get("StateMachineRole")
	sts := roleStatements(role)
	sameSet(t, "the state machine role", actions(sts), []string{"lambda:InvokeFunction", "states:StartExecution", "states:ListExecutions", "states:DescribeExecution", "states:StopExecution",
		"s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload", "kms:GenerateDataKey", "kms:Decrypt"})
	name := res.get("AuditStateMachine", "Properties", "StateMachineName").str()
	require.NotEmpty(t, name, "the state machine has a name its role can grant on")
	for _, st := range sts {
		acts, resource := st.get("Action").strings(), strings.Join(st.get("Resource").strings(), " ")
		switch {
		case slices.Contains(acts, "states:StartExecution"):
			assert.True(t, strings.HasSuffix(resource, ":stateMachine:"+name), "StartExecution and ListExecutions only on the state machine itself: %s", resource)
		case slices.Contains(acts, "states:DescribeExecution"):
			assert.True(t, strings.HasSuffix(resource, ":execution:"+name+"/*"), "the child executions' control only on its own: %s", resource)
		case slices.Contains(acts, "s3:PutObject"):
			assert.Equal(t, "${ReportsBucket.Arn}/keyaudit/runs/*", resource, "S3 only under the runs prefix")
		case slices.Contains(acts, "lambda:InvokeFunction"):
			assert.Equal(t, "KeyAuditFunction.Arn ${KeyAuditFunction.Arn}:* AuditBatchFunction.Arn ${AuditBatchFunction.Arn}:*", resource, "only the functions (and their versions)")
		}
	}

	var runs node
	for _, r := range seq(res.get("ReportsBucket", "Properties", "LifecycleConfiguration", "Rules")) {
		if r.get("Prefix").str() == "keyaudit/runs/" {
			runs = r
		}
	}
	require.NotNil(t, runs.Node, "a lifecycle rule for the runs prefix")
	assert.Equal(t, "7", runs.get("ExpirationInDays").str(), "a run's intermediate objects expire after a week")
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
		if st.get("Effect").str() == "Deny" && slices.Contains(st.get("Action").strings(), "s3:PutObject") && st.get("Condition", "ArnNotEquals").Node != nil {
			writers = st
		}
	}
	require.NotNil(t, writers.Node, "the bucket policy denies writes to everyone but the function")
	assert.Equal(t, "*", writers.get("Principal").str(), "the write denial covers every principal")
	except := seq(writers.get("Condition", "ArnNotEquals", "aws:PrincipalArn"))
	require.Len(t, except, 3, "three writers at most")
	assert.Equal(t, "KeyAuditFunctionRole.Arn", except[0].str(), "except the function's role")
	assert.Equal(t, "StateMachineRole.Arn", except[1].str(), "and, in distributed mode only (seq reads the !If's value), the state machine's, for the Map's results")
	assert.Equal(t, "EventFunctionRole.Arn", except[2].str(), "and, in real time only, the event function's, for its event records (TestTemplateEventFunctionRole)")
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
	// cfn-lint validates a state machine's definition only when it is an
	// object: lint the rendered one in a template of its own.
	def, err := json.Marshal(definition(t, template(t)))
	require.NoError(t, err, "encode the state machine's definition")
	machine := filepath.Join(t.TempDir(), "state-machine.json")
	lintable := `{"AWSTemplateFormatVersion":"2010-09-09","Resources":{"StateMachine":{"Type":"AWS::StepFunctions::StateMachine",` +
		`"Properties":{"RoleArn":"arn:aws:iam::111111111111:role/keyaudit","Definition":` + string(def) + `}}}}`
	require.NoError(t, os.WriteFile(machine, []byte(lintable), 0o600), "write the state machine's template")
	// Real time: its StackSet's template, and the template with RealTime
	// Enabled by default (cfn-lint resolves values with the defaults).
	events := filepath.Join(t.TempDir(), "events.yaml")
	require.NoError(t, os.WriteFile(events, []byte(eventsTemplate(t, template(t))), 0o600), "extract the events StackSet's template")
	data, err := os.ReadFile("../template.yaml")
	require.NoError(t, err, "read the template")
	enabled := string(data)
	for param, value := range realTimeOn {
		re := regexp.MustCompile(`(?m)^(  ` + param + `:\n(?:    .*\n)*?    Default: ).*$`)
		require.True(t, re.MatchString(enabled), "the template's %s has a default to replace", param)
		enabled = re.ReplaceAllString(enabled, "${1}"+value)
	}
	realTime := filepath.Join(t.TempDir(), "template-realtime.yaml")
	require.NoError(t, os.WriteFile(realTime, []byte(enabled), 0o600), "write the template with RealTime Enabled")
	require.Equal(t, "Enabled", parseYAML(t, []byte(enabled)).get("Parameters", "RealTime", "Default").str(), "the copy has RealTime Enabled")
	for _, file := range []string{"../template.yaml", member, machine, events, realTime} {
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
	env := functionProperty(tpl, "KeyAuditFunction", "Environment", "Variables", "KEYAUDIT_SECURITY_HUB")
	assert.Equal(t, []string{"SecurityHubEnabled", "true", "false"}, env.strings(), "KEYAUDIT_SECURITY_HUB follows the condition")

	resources := map[string]string{
		"securityhub:BatchImportFindings": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default",
		"securityhub:BatchUpdateFindings": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default",
	}
	var granted []string
	for _, p := range seq(tpl.get("Resources", "KeyAuditFunctionRole", "Properties", "Policies")) {
		for _, st := range p.get("PolicyDocument", "Statement").Content {
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
	sameSet(t, "the function role with SecurityHub=Enabled", granted, deliver.SecurityHubActions)
}

// substitutions are the values the tests give the references in the state
// machine's definition: the Map's parameters (numbers), a deployment's.
var substitutions = map[string]string{
	"MapConcurrency":                "40",
	"MapToleratedFailurePercentage": "10",
	"MapBatchSize":                  "25",
	"AWS::Partition":                "aws",
	"ReportsBucket":                 "keyaudit-reports",
	"KeyAuditFunction.Arn":          "arn:aws:lambda:us-east-1:111111111111:function:keyaudit",
	"AuditBatchFunction.Arn":        "arn:aws:lambda:us-east-1:111111111111:function:keyaudit-batch",
}

// definition renders the state machine's definition (a !Sub of JSON) with
// the substitutions; a reference without one fails the test.
func definition(t *testing.T, tpl node) map[string]any {
	t.Helper()
	sub := tpl.get("Resources", "AuditStateMachine", "Properties", "DefinitionString")
	require.Equal(t, "!Sub", sub.Tag, "the definition is a !Sub of JSON, so the Map's parameters substitute as numbers")
	text := regexp.MustCompile(`\$\{([^}]+)\}`).ReplaceAllStringFunc(sub.Value, func(ref string) string {
		v, ok := substitutions[strings.Trim(ref, "${}")]
		assert.True(t, ok, "the test gives %s no value", ref)
		return v
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

// patternCases are values each parameter's AllowedPattern must accept and
// refuse: CloudFormation refuses a value that does not match the whole
// pattern (for a CommaDelimitedList, each value) before creating anything.
var patternCases = map[string]struct{ valid, invalid []string }{
	"OrganizationRootOrOuIds": {[]string{"r-ab12", "ou-ab12-abcdefgh"}, []string{"123456789012", "r-", "ou-ab12", "r-ab12,ou-ab12-abcdefgh"}},
	"ExternalId":              {[]string{"b1946ac92492d2347c6235b4d2611184", "a_Z9+=,.@:/-"}, []string{"has space", "quote'"}},
	"StackSetRegion":          {[]string{"us-east-1", "us-gov-west-1", "eu-central-2", "ap-southeast-4"}, []string{"us-east", "US-EAST-1", ""}},
	"MemberRoleName":          {[]string{"KeyAuditRole", "key.audit@x_1"}, []string{"has space", strings.Repeat("a", 65), ""}},
	"AccountIds":              {[]string{"", "111111111111", "111111111111,222222222222", "111111111111, 222222222222"}, []string{"11111111111", "111111111111,", "prod"}},
	"ScheduleExpression":      {[]string{"cron(0 3 * * ? *)", "rate(1 day)", "at(2026-11-24T03:00:00)"}, []string{"0 3 * * *", ""}},
	"ScheduleTimezone":        {[]string{"UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5"}, []string{"", "Europe Paris"}},
	"ConfigParameterName":     {[]string{"", "/keyaudit/config", "keyaudit-config"}, []string{"/keyaudit//config", "keyaudit config"}},
	"SlackSecretArn":          {[]string{"", "arn:aws:secretsmanager:us-east-1:111111111111:secret:keyaudit-slack-AbCdEf"}, []string{"keyaudit-slack", "arn:aws:ssm:us-east-1:111111111111:parameter/x"}},
	"SlackChannel":            {[]string{"", "#security", "security-alerts", "C0123ABCDEF"}, []string{"sec urity", "#"}},
	"ReportsKmsKeyArn":        {[]string{"", "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab"}, []string{"alias/keyaudit", "arn:aws:kms:us-east-1:111111111111:alias/keyaudit"}},
	"SecretsKmsKeyArn":        {[]string{"", "arn:aws-us-gov:kms:us-gov-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, []string{"1234abcd-12ab-34cd-56ef-1234567890ab"}},
	"AlarmEmail":              {[]string{"", "secops@example.com"}, []string{"secops", "a b@example.com"}},
	"OrganizationId":          {[]string{"", "o-a1b2c3d4e5", "o-" + strings.Repeat("z", 32)}, []string{"o-a1b2c3", "O-A1B2C3D4E5", "r-ab12", "o-a1b2c3d4e5 "}},
}

// Issue 21 observation 1: guided deploys and the console ask group by
// group, every parameter says what it is, and a wrong value is refused by
// CloudFormation before anything is created.
func TestTemplateParametersDescribedAndConstrained(t *testing.T) {
	tpl := template(t)
	params := tpl.get("Parameters")
	names := keys(params)
	grouped := map[string]int{}
	for _, g := range seq(tpl.get("Metadata", "AWS::CloudFormation::Interface", "ParameterGroups")) {
		assert.NotEmpty(t, g.get("Label", "default").str(), "every parameter group has a label")
		for _, p := range g.get("Parameters").strings() {
			grouped[p]++
			assert.Contains(t, names, p, "parameter group %q lists a parameter the template has", g.get("Label", "default").str())
		}
	}
	for _, name := range names {
		p := params.get(name)
		assert.Equal(t, 1, grouped[name], "%s is in exactly one parameter group", name)
		assert.NotEmpty(t, p.get("Description").str(), "%s has a description", name)
		if p.get("Type").str() == "Number" {
			// AllowedPattern applies to String and CommaDelimitedList only.
			assert.NotEmpty(t, p.get("MinValue").str(), "%s has a MinValue", name)
			assert.NotEmpty(t, p.get("MaxValue").str(), "%s has a MaxValue", name)
			continue
		}
		if values := p.get("AllowedValues").strings(); len(values) > 0 {
			assert.Contains(t, values, p.get("Default").str(), "%s: the default is allowed", name)
			continue
		}
		pattern := p.get("AllowedPattern").str()
		if !assert.NotEmpty(t, pattern, "%s has an AllowedPattern or AllowedValues", name) {
			continue
		}
		assert.NotEmpty(t, p.get("ConstraintDescription").str(), "%s says what its pattern wants", name)
		re, err := regexp.Compile(pattern)
		require.NoError(t, err, "%s: the pattern compiles", name)
		cases, ok := patternCases[name]
		if !assert.True(t, ok, "patternCases has values for %s", name) {
			continue
		}
		if d := p.get("Default"); d.Node != nil {
			cases.valid = append(cases.valid, d.str())
		}
		for _, v := range cases.valid {
			assert.True(t, re.MatchString(v), "%s accepts %q (pattern %s)", name, v, pattern)
		}
		for _, v := range cases.invalid {
			assert.False(t, re.MatchString(v), "%s refuses %q (pattern %s)", name, v, pattern)
		}
	}
}

// keys are a mapping's keys, in order.
func keys(n node) []string {
	var out []string
	if n.Node != nil {
		for i := 0; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	return out
}

// namedIAMResources are the template's IAM resources with a fixed name,
// for which CloudFormation requires CAPABILITY_NAMED_IAM.
func namedIAMResources(tpl node) []string {
	nameProperty := map[string]string{
		"AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
		"AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
	}
	var named []string
	res := tpl.get("Resources")
	for _, name := range keys(res) {
		if prop, ok := nameProperty[res.get(name, "Type").str()]; ok && res.get(name, "Properties", prop).Node != nil {
			named = append(named, name)
		}
	}
	return named
}

// samconfigCapabilities reads the capabilities samconfig.toml gives
// sam deploy (its [default.deploy.parameters] section).
func samconfigCapabilities(t *testing.T, data []byte) []string {
	t.Helper()
	var section string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "default.deploy.parameters" && strings.TrimSpace(k) == "capabilities" {
			return regexp.MustCompile(`CAPABILITY_\w+`).FindAllString(v, -1)
		}
	}
	return nil
}

// docCommands are the commands of docs/deploy.md's shell blocks, each with
// its continuation lines joined.
func docCommands(t *testing.T, doc string) []string {
	t.Helper()
	var out []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		for _, cmd := range strings.Split(strings.ReplaceAll(block[1], "\\\n", " "), "\n") {
			if cmd = strings.TrimSpace(cmd); cmd != "" {
				out = append(out, cmd)
			}
		}
	}
	require.NotEmpty(t, out, "docs/deploy.md has shell blocks")
	return out
}

func readDoc(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../docs/deploy.md")
	require.NoError(t, err, "read docs/deploy.md")
	return string(data)
}

// Issue 21 observation 1: with a named IAM resource in the template, the
// documented deploy (samconfig.toml, and every deploy command of
// docs/deploy.md that names its capabilities) must grant
// CAPABILITY_NAMED_IAM, or CloudFormation refuses the stack.
func TestDeployGrantsTheCapabilitiesTheTemplateNeeds(t *testing.T) {
	tpl := template(t)
	named := namedIAMResources(tpl)
	require.Contains(t, named, "ManagementAccountMemberRole", "the management account's member role has a fixed name")
	want := []string{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}

	samconfig, err := os.ReadFile("../samconfig.toml")
	require.NoError(t, err, "samconfig.toml is checked in")
	assert.Subset(t, samconfigCapabilities(t, samconfig), want, "samconfig.toml's sam deploy capabilities, with named IAM resources %v", named)
	assert.Contains(t, string(samconfig), `stack_name = "keyaudit"`, "samconfig.toml names the stack docs/deploy.md queries")

	deploys := 0
	for _, cmd := range docCommands(t, readDoc(t)) {
		fields := strings.Fields(cmd)
		deploy := len(fields) > 1 && fields[0] == "sam" && fields[1] == "deploy" ||
			len(fields) > 2 && fields[0] == "aws" && fields[1] == "cloudformation" && fields[2] == "deploy"
		if !deploy {
			continue
		}
		deploys++
		_, caps, given := strings.Cut(cmd, "--capabilities")
		switch {
		case given:
			assert.Subset(t, strings.Fields(caps), want, "docs/deploy.md: %s", cmd)
		case fields[0] == "aws":
			t.Errorf("docs/deploy.md: %s: aws cloudformation deploy reads no samconfig.toml: it needs --capabilities %s", cmd, strings.Join(want, " "))
		case slices.Contains(fields, "--guided"):
			t.Errorf("docs/deploy.md: %s: a guided deploy grants CAPABILITY_IAM only, unless told otherwise", cmd)
		}
	}
	assert.GreaterOrEqual(t, deploys, 3, "docs/deploy.md shows the first deploy, a distributed one and one without SAM")
}

// Issue 21, done when: every command of the first-deploy block is correct
// for the template: the parameters it overrides and the outputs it reads
// exist, every parameter without a default is given, and the parameter
// table documents every parameter and no other.
func TestDeployDocMatchesTemplate(t *testing.T) {
	tpl := template(t)
	params, outputs := keys(tpl.get("Parameters")), keys(tpl.get("Outputs"))
	doc := readDoc(t)
	cmds := docCommands(t, doc)

	first := ""
	for _, cmd := range cmds {
		if _, overrides, ok := strings.Cut(cmd, "--parameter-overrides"); ok {
			if first == "" && strings.HasPrefix(cmd, "sam deploy") {
				first = overrides
			}
			for _, kv := range strings.Fields(overrides) {
				name, _, ok := strings.Cut(kv, "=")
				require.True(t, ok, "docs/deploy.md: %q in %s is Name=Value", kv, cmd)
				assert.Contains(t, params, name, "docs/deploy.md overrides a parameter the template has: %s", cmd)
			}
		}
		for _, m := range regexp.MustCompile(`OutputKey=='(\w+)'`).FindAllStringSubmatch(cmd, -1) {
			assert.Contains(t, outputs, m[1], "docs/deploy.md reads an output the template has: %s", cmd)
		}
		if strings.Contains(cmd, "--stack-name") {
			assert.Contains(t, cmd, "--stack-name keyaudit", "docs/deploy.md uses samconfig.toml's stack name: %s", cmd)
		}
	}
	require.NotEmpty(t, first, "docs/deploy.md has a first sam deploy with its parameters")
	for _, name := range params {
		if tpl.get("Parameters", name, "Default").Node == nil {
			assert.Contains(t, first, name+"=", "the first deploy gives %s, which has no default", name)
		}
	}

	_, section, ok := strings.Cut(doc, "\n## Parameters\n")
	require.True(t, ok, "docs/deploy.md has a Parameters section")
	section, _, _ = strings.Cut(section, "\n## ")
	var table []string
	for _, m := range regexp.MustCompile("(?m)^\\| (`\\w+`(?:, `\\w+`)*) \\|").FindAllStringSubmatch(section, -1) {
		for _, name := range strings.Split(m[1], ", ") {
			table = append(table, strings.Trim(name, "`"))
		}
	}
	assert.ElementsMatch(t, params, table, "docs/deploy.md's parameter table documents every parameter of the template, and no other")
}

// statementsBySid are a policy document's statements by Sid; a
// conditional statement counts as its value, under its condition.
func statementsBySid(statements node) map[string]node {
	out := map[string]node{}
	for _, st := range seq(statements) {
		out[st.get("Sid").str()] = st
	}
	return out
}

// conditionOf is the condition of a conditional statement
// (!If [Cond, statement, !Ref AWS::NoValue]) with the given Sid.
func conditionOf(statements node, sid string) string {
	for _, st := range statements.Content {
		if st.Tag == "!If" && len(st.Content) == 3 && (node{st.Content[1]}).get("Sid").str() == sid {
			return st.Content[0].Value
		}
	}
	return ""
}

// Issue 21 observation 4: the StackSet deploys everywhere at once, a few
// refusing accounts do not roll back the rest, overlapping operations
// queue, and its name follows the stack's, so a test stack can sit beside
// production.
func TestTemplateStackSet(t *testing.T) {
	tpl := template(t)
	ss := tpl.get("Resources", "MemberRoleStackSet", "Properties")
	prefs := ss.get("OperationPreferences")
	assert.Equal(t, "PARALLEL", prefs.get("RegionConcurrencyType").str(), "regions in parallel")
	assert.Equal(t, "100", prefs.get("MaxConcurrentPercentage").str(), "every account at once")
	tolerance, err := strconv.Atoi(prefs.get("FailureTolerancePercentage").str())
	require.NoError(t, err, "a failure tolerance percentage")
	assert.Positive(t, tolerance, "one refusing account does not roll back the others")
	assert.Equal(t, "SOFT_FAILURE_TOLERANCE", prefs.get("ConcurrencyMode").str(), "the tolerance does not cap the concurrency")
	assert.Equal(t, "true", ss.get("ManagedExecution", "Active").str(), "overlapping operations queue")

	name := ss.get("StackSetName")
	assert.Equal(t, "!Sub", name.Tag, "the StackSet's name is derived")
	assert.Equal(t, "${AWS::StackName}-member-role", name.str(), "from the stack's name (keyaudit-member-role for a stack named keyaudit)")
	assert.Contains(t, outputText(t, tpl, "ManagementAccountRole"), "--stack-set-name "+name.str(), "the ManagementAccountRole output names the StackSet by the same name")
}

// Issue 21 observation 7: the bucket, the log group and the Slack secret
// survive the stack's deletion and replacement; a multipart upload cut
// short is cleaned up.
func TestTemplateRetention(t *testing.T) {
	tpl := template(t)
	for _, name := range []string{"ReportsBucket", "KeyAuditLogGroup", "SlackSecret"} {
		r := tpl.get("Resources", name)
		assert.Equal(t, "Retain", r.get("DeletionPolicy").str(), "%s is kept when the stack is deleted", name)
		assert.Equal(t, "Retain", r.get("UpdateReplacePolicy").str(), "%s is kept when an update replaces it", name)
	}
	var abort node
	for _, r := range seq(tpl.get("Resources", "ReportsBucket", "Properties", "LifecycleConfiguration", "Rules")) {
		if r.get("AbortIncompleteMultipartUpload").Node != nil {
			abort = r
		}
	}
	require.NotNil(t, abort.Node, "a lifecycle rule aborts incomplete multipart uploads")
	assert.Equal(t, "Enabled", abort.get("Status").str(), "the abort rule is enabled")
	assert.Nil(t, abort.get("Prefix").Node, "the abort rule covers the whole bucket")
	assert.Nil(t, abort.get("Filter").Node, "the abort rule covers the whole bucket")
	days, err := strconv.Atoi(abort.get("AbortIncompleteMultipartUpload", "DaysAfterInitiation").str())
	require.NoError(t, err, "the abort rule's days")
	assert.LessOrEqual(t, days, 7, "parts are not kept for long")
}

// Issue 21 observation 7: the role both functions run as writes only its
// own log group, and decrypts a customer-key secret or parameter only
// through Secrets Manager and SSM; no managed policy widens it.
func TestTemplateFunctionRoleScope(t *testing.T) {
	tpl := template(t)
	role := tpl.get("Resources", "KeyAuditFunctionRole", "Properties")
	assert.Nil(t, role.get("ManagedPolicyArns").Node, "no managed policy (AWSLambdaBasicExecutionRole grants every log group)")
	assert.Equal(t, []string{"lambda.amazonaws.com"}, seq(role.get("AssumeRolePolicyDocument", "Statement"))[0].get("Principal", "Service").strings(), "assumed by Lambda")
	require.Len(t, seq(role.get("Policies")), 1, "one inline policy")
	doc := seq(role.get("Policies"))[0].get("PolicyDocument", "Statement")
	sids := statementsBySid(doc)

	logs := sids["Logs"]
	assert.ElementsMatch(t, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, logs.get("Action").strings(), "the logs actions")
	assert.Equal(t, "!GetAtt", logs.get("Resource").Tag, "the logs resource is an attribute")
	assert.Equal(t, "KeyAuditLogGroup.Arn", logs.get("Resource").str(), "the function's own log group only (its ARN ends in :*, its streams)")
	// Organizations' resources are named by the organization's ID, which
	// the template cannot know: its reads are the statements on "*".
	for sid, st := range sids {
		if st.get("Resource").str() == "*" {
			assert.Subset(t, orgReads, st.get("Action").strings(), "%s: only the Organizations reads have no resource to name", sid)
		}
	}

	kms := sids["SecretsKmsKey"]
	assert.Equal(t, "HasSecretsKey", conditionOf(doc, "SecretsKmsKey"), "kms:Decrypt for secrets only with SecretsKmsKeyArn")
	assert.Equal(t, []string{"kms:Decrypt"}, kms.get("Action").strings(), "decrypt only")
	assert.Equal(t, "SecretsKmsKeyArn", kms.get("Resource").str(), "on the parameter's key")
	assert.Equal(t, []string{"secretsmanager.${AWS::Region}.amazonaws.com", "ssm.${AWS::Region}.amazonaws.com"},
		kms.get("Condition", "StringEquals", "kms:ViaService").strings(), "through Secrets Manager and SSM only")
	for _, secret := range []string{"SlackSecret", "ExternalIdSecret"} {
		kmsKey := tpl.get("Resources", secret, "Properties", "KmsKeyId").strings()
		assert.Equal(t, []string{"HasSecretsKey", "SecretsKmsKeyArn", "AWS::NoValue"}, kmsKey, "%s is under SecretsKmsKeyArn when given", secret)
	}
	assert.Equal(t, "AlarmTopic", sids["OnFailureDestination"].get("Resource").str(), "sns:Publish on the alarm topic only")
}

// Issue 21 observation 7: Lambda refuses a reservation that leaves fewer
// than 100 of the account's concurrent executions (1,000 by default)
// unreserved; the function's own 1 counts too.
func TestTemplateMapConcurrencyBounded(t *testing.T) {
	tpl := template(t)
	max, err := strconv.Atoi(tpl.get("Parameters", "MapConcurrency", "MaxValue").str())
	require.NoError(t, err, "MapConcurrency has a MaxValue")
	events, err := strconv.Atoi(tpl.get("Parameters", "EventConcurrency", "MaxValue").str())
	require.NoError(t, err, "EventConcurrency has a MaxValue")
	assert.LessOrEqual(t, max+1+events, 1000-100, "MapConcurrency and EventConcurrency at their most, with the function's 1, keep 100 of the default 1,000 unreserved")
	assert.Equal(t, "MapConcurrency", tpl.get("Resources", "AuditBatchFunction", "Properties", "ReservedConcurrentExecutions").str(), "the batch function reserves MapConcurrency")
}

// alarmMetrics are the (namespace, metric) pairs an alarm watches, and
// the periods it counts by.
func alarmMetrics(alarm node) (metrics [][2]string, periods []string) {
	p := alarm.get("Properties")
	if name := p.get("MetricName").str(); name != "" {
		return [][2]string{{p.get("Namespace").str(), name}}, []string{p.get("Period").str()}
	}
	for _, m := range seq(p.get("Metrics")) {
		if stat := m.get("MetricStat"); stat.Node != nil {
			metrics = append(metrics, [2]string{stat.get("Metric", "Namespace").str(), stat.get("Metric", "MetricName").str()})
			periods = append(periods, stat.get("Period").str())
		}
	}
	return metrics, periods
}

// Issue 21 observation 5: a green run that audited little, a cut-short
// listing and a slow run each raise an alarm, every alarm notifies the
// topic, and none counts by the day (an alarm still in ALARM from last
// night would not notify again).
func TestTemplateAlarms(t *testing.T) {
	tpl := template(t)
	res := tpl.get("Resources")
	var emitted []string
	for _, v := range (runMetrics{}).values() {
		emitted = append(emitted, v.name)
	}
	alarms := 0
	for _, name := range keys(res) {
		alarm := res.get(name)
		if alarm.get("Type").str() != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		assert.Equal(t, []string{"AlarmTopic"}, alarm.get("Properties", "AlarmActions").strings(), "%s notifies the alarm topic", name)
		metrics, periods := alarmMetrics(alarm)
		require.NotEmpty(t, metrics, "%s watches a metric", name)
		if name == "EventDeadLetterAlarm" {
			continue // a queue's depth, not a night's count: TestTemplateRealTimeQueue
		}
		for _, p := range periods {
			assert.Equal(t, "3600", p, "%s counts per hour, so a second bad night notifies again", name)
		}
		for _, m := range metrics {
			if m[0] == metricsNamespace {
				assert.Contains(t, emitted, m[1], "%s watches a metric lambda/metrics.go emits", name)
			}
		}
	}
	assert.GreaterOrEqual(t, alarms, 8, "the alarms of docs/deploy.md")

	dimension := func(alarm string) []string {
		var out []string
		p := res.get(alarm, "Properties")
		dims := seq(p.get("Dimensions"))
		for _, m := range seq(p.get("Metrics")) {
			dims = append(dims, seq(m.get("MetricStat", "Metric", "Dimensions"))...)
		}
		for _, d := range dims {
			out = append(out, d.get("Name").str()+"="+d.get("Value").str())
		}
		return slices.Compact(out)
	}
	notAudited := res.get("AccountsNotAuditedAlarm", "Properties")
	m, _ := alarmMetrics(res.get("AccountsNotAuditedAlarm"))
	assert.ElementsMatch(t, [][2]string{{metricsNamespace, "AccountsError"}, {metricsNamespace, "AccountsSkipped"}}, m, "accounts in error or skipped")
	assert.Equal(t, "NotAuditedThreshold", notAudited.get("Threshold").str(), "above the threshold parameter")
	assert.Equal(t, "GreaterThanThreshold", notAudited.get("ComparisonOperator").str(), "more than the threshold")
	assert.Equal(t, "0", tpl.get("Parameters", "NotAuditedThreshold", "Default").str(), "by default any account not audited")
	assert.Equal(t, []string{metricsDimension + "=KeyAuditFunction"}, dimension("AccountsNotAuditedAlarm"), "the run's function: the single run, or merge")

	m, _ = alarmMetrics(res.get("ListingIncompleteAlarm"))
	assert.Equal(t, [][2]string{{metricsNamespace, "ListingIncomplete"}}, m, "the listing's metric")
	assert.Equal(t, "1", res.get("ListingIncompleteAlarm", "Properties", "Threshold").str(), "an incomplete listing is 1")
	assert.Equal(t, []string{metricsDimension + "=KeyAuditFunction"}, dimension("ListingIncompleteAlarm"), "the run's function")

	timeout, err := strconv.Atoi(tpl.get("Globals", "Function", "Timeout").str())
	require.NoError(t, err, "the functions' timeout")
	for alarm, fn := range map[string]string{"SlowRunAlarm": "KeyAuditFunction", "SlowBatchAlarm": "AuditBatchFunction"} {
		p := res.get(alarm, "Properties")
		assert.Equal(t, [2]string{"AWS/Lambda", "Duration"}, [2]string{p.get("Namespace").str(), p.get("MetricName").str()}, "%s watches the duration", alarm)
		assert.Equal(t, "Maximum", p.get("Statistic").str(), "%s: of the slowest invocation", alarm)
		assert.Equal(t, strconv.Itoa(timeout*1000*2/3), p.get("Threshold").str(), "%s: two thirds of the timeout, in milliseconds", alarm)
		assert.Equal(t, []string{"FunctionName=" + fn}, dimension(alarm), "%s: of %s", alarm, fn)
	}
}

// Issue 21 observation 2: with a KMS key, the function is told the key
// (KEYAUDIT_KMS_KEY_ARN, for SSE-KMS on every put) and the bucket refuses
// a put that names another encryption; without one, nothing is denied.
func TestTemplateKMSBucketPolicy(t *testing.T) {
	tpl := template(t)
	assert.Equal(t, "ReportsKmsKeyArn", functionProperty(tpl, "KeyAuditFunction", "Environment", "Variables", "KEYAUDIT_KMS_KEY_ARN").str(), "the function names the key on every put")
	doc := tpl.get("Resources", "ReportsBucketPolicy", "Properties", "PolicyDocument", "Statement")
	sids := statementsBySid(doc)
	for sid, condition := range map[string][]string{
		"OnlyTheConfiguredKmsKey":  {"StringNotEqualsIfExists", "s3:x-amz-server-side-encryption-aws-kms-key-id", "ReportsKmsKeyArn"},
		"OnlyKmsEncryption":        {"StringNotEqualsIfExists", "s3:x-amz-server-side-encryption", "aws:kms"},
		"KmsEncryptionNamesTheKey": {"Null", "s3:x-amz-server-side-encryption-aws-kms-key-id", "true"},
	} {
		st := sids[sid]
		require.NotNil(t, st.Node, "statement %s", sid)
		assert.Equal(t, "HasKmsKey", conditionOf(doc, sid), "%s only with a key", sid)
		assert.Equal(t, "Deny", st.get("Effect").str(), "%s denies", sid)
		assert.Equal(t, "*", st.get("Principal").str(), "%s: everyone", sid)
		assert.Equal(t, []string{"s3:PutObject"}, st.get("Action").strings(), "%s: puts (a multipart upload's parts carry no encryption header, so IfExists lets them through)", sid)
		assert.Equal(t, condition[2], st.get("Condition", condition[0], condition[1]).str(), "%s: %s %s", sid, condition[0], condition[1])
	}
	assert.Equal(t, "aws:kms", sids["KmsEncryptionNamesTheKey"].get("Condition", "StringEquals", "s3:x-amz-server-side-encryption").str(),
		"aws:kms without a key ID is the AWS-managed key: refused")
}

// Issue 25 observation 9: nobody but the function can replicate objects
// into the bucket (a forged announced.json would hide a finding from
// Slack) or give the bucket a replication configuration.
func TestTemplateReplicationDenied(t *testing.T) {
	tpl := template(t)
	sids := statementsBySid(tpl.get("Resources", "ReportsBucketPolicy", "Properties", "PolicyDocument", "Statement"))
	writes := sids["OnlyTheFunctionWritesReports"]
	for _, a := range []string{"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"} {
		assert.Contains(t, writes.get("Action").strings(), a, "%s is denied to all but the function", a)
	}
	cfg := sids["NoReplicationConfiguration"]
	assert.Equal(t, "Deny", cfg.get("Effect").str(), "replication configuration changes are denied")
	assert.Equal(t, "*", cfg.get("Principal").str(), "to everyone")
	assert.Equal(t, []string{"s3:PutReplicationConfiguration"}, cfg.get("Action").strings(), "the replication configuration")
	assert.Equal(t, "ReportsBucket.Arn", cfg.get("Resource").str(), "of the bucket")
	assert.Equal(t, "KeyAuditFunctionRole.Arn", cfg.get("Condition", "ArnNotEquals", "aws:PrincipalArn").str(), "but the function's role")
}

// Issue 25 observation 9: the external ID (a NoEcho parameter) is not in
// either function's environment, where anyone who may read the function's
// configuration sees it: it is in a secret the function reads.
func TestTemplateExternalIDNotInEnvironment(t *testing.T) {
	tpl := template(t)
	for _, fn := range functions {
		env := functionProperty(tpl, fn, "Environment", "Variables")
		require.NotNil(t, env.Node, "%s has an environment", fn)
		assert.Nil(t, env.get("KEYAUDIT_EXTERNAL_ID").Node, "%s: no KEYAUDIT_EXTERNAL_ID", fn)
		var refs []string
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			refs = append(refs, n.Value)
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(env.Node)
		if own := tpl.get("Resources", fn, "Properties", "Environment"); own.Node != nil {
			walk(own.Node)
		}
		assert.NotContains(t, refs, "ExternalId", "%s's environment does not reference the ExternalId parameter", fn)
		assert.Equal(t, "ExternalIdSecret", env.get("KEYAUDIT_EXTERNAL_ID_SECRET_ARN").str(), "%s is told the secret", fn)
	}
	secret := tpl.get("Resources", "ExternalIdSecret")
	assert.Equal(t, "AWS::SecretsManager::Secret", secret.get("Type").str(), "the external ID's secret")
	assert.Equal(t, "ExternalId", secret.get("Properties", "SecretString").str(), "holds the parameter")
	assert.Contains(t, statementsBySid(seq(tpl.get("Resources", "KeyAuditFunctionRole", "Properties", "Policies"))[0].get("PolicyDocument", "Statement"))["Secrets"].get("Resource").strings(),
		"ExternalIdSecret", "the functions may read it")
	assert.Equal(t, "true", tpl.get("Parameters", "ExternalId", "NoEcho").str(), "the parameter stays NoEcho")
}

// Issue 21, done when: the commands of docs/deploy.md run, as a person
// pastes them, against moto. sam, make and what moto does not serve
// (activating StackSets' trusted access, a StackSets delegated
// administrator, invoking the function, tailing its logs, packaging and
// deploying a template) are stubs that record their arguments; every
// other aws command talks to moto, through a stack named keyaudit whose
// outputs are the template's.
func TestDeployDocCommandsAgainstMoto(t *testing.T) {
	srv := moto.Start(t)
	dir := t.TempDir()
	sh := shell(t, srv, dir)

	// The organization and the stack the deploy would create: its outputs
	// are the template's.
	sh("aws organizations create-organization --feature-set ALL")
	const delegate = "222233334444"
	slackSecret := sh("aws secretsmanager create-secret --name keyaudit-slack --query ARN --output text")
	stateMachine := sh(`aws stepfunctions create-state-machine --name keyaudit-keyaudit --role-arn arn:aws:iam::123456789012:role/sfn ` +
		`--definition '{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}' --query stateMachineArn --output text`)
	// The CLI v1 on this machine sends SQS calls to its legacy endpoint,
	// not AWS_ENDPOINT_URL's (the stub below says where).
	deadLetters := sh(`aws sqs --endpoint-url "$AWS_ENDPOINT_URL" create-queue --queue-name keyaudit-events-dlq --query QueueUrl --output text`)
	sh(`aws sqs --endpoint-url "$AWS_ENDPOINT_URL" send-message --queue-url ` + deadLetters + ` --message-body '{"detail-type":"AWS API Call via CloudTrail"}'`)
	outputs := map[string]string{"SlackSecret": slackSecret, "StateMachineArn": stateMachine,
		"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:keyaudit-KeyAuditFunction", "LogGroupName": "keyaudit-KeyAuditLogGroup",
		"EventDeadLetterQueueUrl": deadLetters}
	stack := map[string]any{"Resources": map[string]any{"Topic": map[string]any{"Type": "AWS::SNS::Topic"}}}
	outs := map[string]any{}
	for _, name := range keys(template(t).get("Outputs")) {
		outs[name] = map[string]any{"Value": cmp.Or(outputs[name], "from-the-template")}
	}
	stack["Outputs"] = outs
	body, err := json.Marshal(stack)
	require.NoError(t, err, "the stack's template")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stack.json"), body, 0o600), "write the stack's template")
	sh("aws cloudformation create-stack --stack-name keyaudit --template-body file://stack.json")

	// Stubs, first on PATH, record what they are asked.
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o700), "the stubs' directory")
	realAWS, err := exec.LookPath("aws")
	require.NoError(t, err, "the aws CLI")
	stubs := map[string]string{
		"sam":  `echo "sam $*" >> "$STUB_LOG"`,
		"make": `echo "make $*" >> "$STUB_LOG"`,
		"aws": `case "$1 $2" in
"cloudformation activate-organizations-access"|"organizations register-delegated-administrator"|"lambda invoke"|"logs tail"|"cloudformation package"|"cloudformation deploy") echo "aws $*" >> "$STUB_LOG";;
"sqs "*) echo "aws $*" >> "$STUB_LOG"; exec "` + realAWS + `" --endpoint-url "$AWS_ENDPOINT_URL" "$@";;
*) exec "` + realAWS + `" "$@";;
esac`,
	}
	for name, script := range stubs {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+script+"\n"), 0o700), "stub %s", name)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keyaudit.yaml"), []byte("thresholds:\n  key_age_days: 90\n"), 0o600), "a config to put")
	// docs/deploy.md asks for the CLI v2, which passes a URL parameter as
	// it is; the v1 on this machine would fetch it unless told not to.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "aws-config"), []byte("[default]\ncli_follow_urlparam = false\n"), 0o600), "the CLI's config")

	var script strings.Builder
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(readDoc(t), -1) {
		script.WriteString(strings.ReplaceAll(block[1], "111111111111", delegate))
	}
	log := filepath.Join(dir, "stub.log")
	sh("set -euo pipefail; export PATH=" + bin + ":$PATH STUB_LOG=" + log + " ARTIFACTS=artifacts; " + script.String())

	data, err := os.ReadFile(log)
	require.NoError(t, err, "the stubs' log")
	calls := strings.Split(strings.TrimSpace(string(data)), "\n")
	root := sh("aws organizations list-roots --query 'Roots[0].Id' --output text")
	first := regexp.MustCompile(`^sam deploy --parameter-overrides OrganizationRootOrOuIds=(\S+) ExternalId=([0-9a-f]{48}) AlarmEmail=\S+@\S+$`)
	var deployed []string
	for _, c := range calls {
		if m := first.FindStringSubmatch(c); m != nil {
			deployed = m
		}
	}
	require.NotNil(t, deployed, "the first deploy ran with the root and a fresh external ID: %q", calls)
	assert.Equal(t, root, deployed[1], "the member role goes to the organization's root")
	assert.Contains(t, calls, "aws cloudformation activate-organizations-access", "trusted access is activated")
	assert.Contains(t, calls, "aws lambda invoke --function-name "+outputs["FunctionArn"]+" --invocation-type Event /dev/null", "the first run invokes the FunctionArn output")
	assert.Contains(t, calls, "aws logs tail "+outputs["LogGroupName"]+" --follow --since 10m", "the logs are the LogGroupName output's")
	assert.Equal(t, "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
		sh("aws secretsmanager get-secret-value --secret-id "+slackSecret+" --query SecretString --output text"), "the webhook is in the SlackSecret output's secret")
	assert.Equal(t, "thresholds:\n  key_age_days: 90", sh("aws ssm get-parameter --name /keyaudit/config --query Parameter.Value --output text"), "the config is in SSM")
	assert.Contains(t, calls, "aws organizations register-delegated-administrator --account-id "+delegate+" --service-principal member.org.stacksets.cloudformation.amazonaws.com",
		"the delegated administrator is registered for StackSets")
	assert.Equal(t, "1", sh("aws stepfunctions list-executions --state-machine-arn "+stateMachine+" --query 'length(executions)'"), "an execution of the StateMachineArn output started")
	var realTime string
	for _, c := range calls {
		if strings.HasPrefix(c, "sam deploy --parameter-overrides RealTime=Enabled") {
			realTime = c
		}
	}
	org := sh("aws organizations describe-organization --query Organization.Id --output text")
	assert.Contains(t, realTime, "OrganizationId="+org, "real time is deployed with the organization's ID")
	assert.Contains(t, calls, "aws sqs get-queue-attributes --queue-url "+deadLetters+" --attribute-names ApproximateNumberOfMessages",
		"the dead-letter queue's depth is read from the EventDeadLetterQueueUrl output's queue")
}

// Issue 24: remediation acts through a role of its own, deployed only when
// a remediation parameter is on; the member role stays read-only.
func TestTemplateRemediationRole(t *testing.T) {
	tpl := template(t)
	ss := tpl.get("Resources", "RemediationRoleStackSet")
	require.NotNil(t, ss.Node, "the remediation StackSet")
	assert.Equal(t, "RemediationOn", ss.get("Condition").str(), "created only when remediation is on")
	defaults := parameterDefaults(tpl)
	for _, tt := range []struct {
		name                   string
		params                 map[string]string
		role, function, leaked bool
	}{
		{"the defaults", nil, false, false, false},
		{"Remediation=Enabled", map[string]string{"Remediation": "Enabled"}, true, false, false},
		{"RemediationDeletion alone", map[string]string{"RemediationDeletion": "Enabled"}, false, false, false},
		{"DeactivateLeakedKeys=Enabled", map[string]string{"DeactivateLeakedKeys": "Enabled"}, true, true, true},
		{"DeactivateUnusedDays=90", map[string]string{"DeactivateUnusedDays": "90"}, true, true, false},
	} {
		params := maps.Clone(defaults)
		maps.Copy(params, tt.params)
		assert.Equal(t, tt.role, evalCondition(t, tpl, "RemediationOn", params), "%s: the remediation role", tt.name)
		assert.Equal(t, tt.function, evalCondition(t, tpl, "FunctionRemediates", params), "%s: the function may assume it", tt.name)
		assert.Equal(t, tt.leaked, evalCondition(t, tpl, "DeactivatesLeakedKeys", params), "%s: leaked keys are deactivated", tt.name)
	}

	// The function's policies: off by default, and it may assume the
	// remediation role only when one is on, in this organization only.
	doc := seq(tpl.get("Resources", "KeyAuditFunctionRole", "Properties", "Policies"))[0].get("PolicyDocument", "Statement")
	assert.Equal(t, "FunctionRemediates", conditionOf(doc, "AssumeRemediationRole"), "the function assumes the remediation role only with a policy on")
	assume := statementsBySid(doc)["AssumeRemediationRole"]
	assert.Equal(t, []string{"sts:AssumeRole"}, assume.get("Action").strings(), "assume only")
	assert.Equal(t, "arn:${AWS::Partition}:iam::*:role/${AWS::StackName}-remediation", assume.get("Resource").str(), "the remediation role by name")
	assert.Equal(t, "${aws:PrincipalOrgID}", assume.get("Condition", "StringEquals", "aws:ResourceOrgID").str(), "of this organization only")
	env := tpl.get("Globals", "Function", "Environment", "Variables")
	assert.Equal(t, []string{"DeactivatesLeakedKeys", "true", "false"}, env.get("KEYAUDIT_DEACTIVATE_LEAKED").strings(), "the leaked-key policy follows its parameter")
	assert.Equal(t, "DeactivateUnusedDays", env.get("KEYAUDIT_DEACTIVATE_UNUSED_DAYS").str(), "the unused-key policy follows its parameter")
	assert.Equal(t, "${AWS::StackName}-remediation", env.get("KEYAUDIT_REMEDIATION_ROLE_NAME").str(), "the role the StackSet deploys")
	assert.Equal(t, "${AWS::StackName}-remediation", paramValue(ss, "RoleName"), "the StackSet deploys the role the function assumes")
	for name, r := range mapping(tpl.get("Resources")) {
		if name != "RemediationRoleStackSet" {
			assert.NotContains(t, r.get("Properties", "TemplateBody").str(), "iam:UpdateAccessKey", "%s: no other resource may change keys", name)
			assert.NotContains(t, actions(roleStatements(r)), "iam:UpdateAccessKey", "%s: no other role may change keys", name)
		}
	}

	assert.Equal(t, "RemediationDeletion", paramValue(ss, "Deletion"), "deletion follows its own parameter")
	body := parseYAML(t, []byte(ss.get("Properties", "TemplateBody").str()))
	role := body.get("Resources", "RemediationRole")
	stmts := seq(role.get("Properties", "Policies"))
	require.Len(t, stmts, 1, "one policy")
	doc = stmts[0].get("PolicyDocument", "Statement")
	always := statementsBySid(doc)
	delete(always, "DeleteAfterEvidence") // conditional: below
	var got []string
	for _, st := range always {
		got = append(got, st.get("Action").strings()...)
	}
	sameSet(t, "the remediation role, deletion off", got, audit.RemediationActions)
	assert.Equal(t, "DeletionOn", conditionOf(doc, "DeleteAfterEvidence"), "deletion only when on")
	var deletion node
	for _, st := range doc.Content {
		if st.Tag == "!If" && len(st.Content) == 3 {
			deletion = node{st.Content[1]}
		}
	}
	sameSet(t, "the remediation role, deletion on", deletion.get("Action").strings(), audit.RemediationDeleteActions)
	assert.Equal(t, []string{"Deletion", "Enabled"}, []string{body.get("Conditions", "DeletionOn").Content[0].Value, body.get("Conditions", "DeletionOn").Content[1].Value})

	q := always["QuarantineOnly"]
	assert.Equal(t, []string{"iam:AttachUserPolicy", "iam:DetachUserPolicy"}, q.get("Action").strings(), "attach and detach")
	assert.Equal(t, "arn:${AWS::Partition}:iam::aws:policy/AWSCompromisedKeyQuarantineV3", q.get("Condition", "ArnEquals", "iam:PolicyARN").str(),
		"only AWS's quarantine policy")
	for sid, st := range always {
		assert.Equal(t, "Allow", st.get("Effect").str(), sid)
		assert.Equal(t, "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*", st.get("Resource").str(), "%s: users of the account only", sid)
	}
	trust := seq(role.get("Properties", "AssumeRolePolicyDocument", "Statement"))
	require.Len(t, trust, 1, "one trust statement")
	assert.NotNil(t, trust[0].get("Condition", "StringEquals", "sts:ExternalId").Node, "the external ID is required")
	assert.Equal(t, "arn:${AWS::Partition}:iam::${TrustedAccountId}:root", trust[0].get("Principal", "AWS").str(), "trusted by the deploying account's principals")

	moto.Require(t, "cfn-lint")
	file := filepath.Join(t.TempDir(), "remediation-role.yaml")
	require.NoError(t, os.WriteFile(file, []byte(ss.get("Properties", "TemplateBody").str()), 0o600), "extract the StackSet's template")
	out, err := exec.Command("cfn-lint", "--format", "parseable", file).CombinedOutput()
	assert.NoError(t, err, "cfn-lint of the remediation role's template reports:\n%s", out)
}

// paramValue is the value a StackSet passes its template's parameter key.
func paramValue(ss node, key string) string {
	return paramValueNode(ss, key).str()
}

// evalCondition evaluates the template's condition name with the given
// parameter values, as CloudFormation would: !Equals, !Not, !Or, !And,
// Condition and !Ref of a parameter are what the template's conditions use.
func evalCondition(t *testing.T, tpl node, name string, params map[string]string) bool {
	t.Helper()
	c := tpl.get("Conditions", name)
	require.NotNil(t, c.Node, "the condition %s", name)
	return evalNode(t, tpl, c.Node, params)
}

func evalNode(t *testing.T, tpl node, n *yaml.Node, params map[string]string) bool {
	t.Helper()
	value := func(v *yaml.Node) string {
		if v.Tag == "!Ref" {
			p, ok := params[v.Value]
			require.True(t, ok, "!Ref %s names a parameter", v.Value)
			return p
		}
		return v.Value
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Condition" {
		return evalCondition(t, tpl, n.Content[1].Value, params)
	}
	switch n.Tag {
	case "!Equals":
		require.Len(t, n.Content, 2, "!Equals takes two values")
		return value(n.Content[0]) == value(n.Content[1])
	case "!Not":
		return !evalNode(t, tpl, n.Content[0], params)
	case "!Or", "!And":
		and := n.Tag == "!And"
		for _, c := range n.Content {
			if evalNode(t, tpl, c, params) != and {
				return !and
			}
		}
		return and
	}
	require.Failf(t, "unknown condition function", "%s at line %d", n.Tag, n.Line)
	return false
}

// mapping is a mapping's values by key.
func mapping(n node) map[string]node {
	out := map[string]node{}
	for i := 0; n.Node != nil && i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = node{n.Content[i+1]}
	}
	return out
}

// parameterDefaults are the template's parameters with their defaults, the
// values CloudFormation uses for those a deploy does not give.
func parameterDefaults(tpl node) map[string]string {
	out := map[string]string{}
	for name, p := range mapping(tpl.get("Parameters")) {
		out[name] = p.get("Default").str()
	}
	return out
}

// deployment is what a deploy decides the conditions by: the parameters
// (defaults, then the overrides) and the stack's region.
func deployment(tpl node, region string, overrides map[string]string) map[string]string {
	params := parameterDefaults(tpl)
	maps.Copy(params, overrides)
	params["AWS::Region"] = region
	return params
}

// created are the names of a template section's entries (Resources,
// Outputs) CloudFormation creates for a deployment.
func created(t *testing.T, tpl node, section string, params map[string]string) []string {
	t.Helper()
	var out []string
	for _, name := range keys(tpl.get(section)) {
		if c := tpl.get(section, name, "Condition").str(); c == "" || evalCondition(t, tpl, c, params) {
			out = append(out, name)
		}
	}
	return out
}

// realTimeOn is a real-time deployment's overrides.
var realTimeOn = map[string]string{"RealTime": "Enabled", "OrganizationId": "o-a1b2c3d4e5"}

// realTimeCalls are the CloudTrail calls the event function judges (issue
// 23's contract; internal/event acts on the same list).
var realTimeCalls = []string{"CreateAccessKey", "UpdateAccessKey", "CreateLoginProfile", "DeactivateMFADevice",
	"DeleteVirtualMFADevice", "AttachUserPolicy", "PutUserPolicy", "AddUserToGroup"}

// eventPattern is the one event pattern every real-time rule uses.
func eventPattern(t *testing.T, tpl node) map[string]any {
	t.Helper()
	text := tpl.get("Mappings", "Events", "Pattern", "Json").str()
	var pattern map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &pattern), "the event pattern is JSON:\n%s", text)
	return pattern
}

// eventsTemplate is the template the events StackSet deploys in every
// account, with the event pattern written in as CloudFormation's !Sub does.
func eventsTemplate(t *testing.T, tpl node) string {
	t.Helper()
	sub := tpl.get("Resources", "EventRuleStackSet", "Properties", "TemplateBody")
	require.Equal(t, "!Sub", sub.Tag, "the events template is a !Sub, to write the pattern in")
	require.Len(t, sub.Content, 2, "a !Sub of the template and its variables")
	pattern := node{sub.Content[1]}.get("Pattern")
	require.Equal(t, "!FindInMap", pattern.Tag, "the pattern is the mapping's")
	assert.Equal(t, []string{"Events", "Pattern", "Json"}, pattern.strings(), "the pattern is the one every rule uses")
	body := sub.Content[0].Value
	assert.Equal(t, []string{"${Pattern}"}, regexp.MustCompile(`\$\{[^}]*\}`).FindAllString(body, -1), "the !Sub substitutes only the pattern")
	return strings.ReplaceAll(body, "${Pattern}", tpl.get("Mappings", "Events", "Pattern", "Json").str())
}

// Issue 23: real time is off by default, and off it adds nothing: no
// resource, no output, and the member roles trust the nightly role only.
// On, it adds exactly the real-time resources; the management account's
// own rule only where this stack can create it (its account, us-east-1).
func TestTemplateRealTimeOnlyWhenEnabled(t *testing.T) {
	tpl := template(t)
	param := tpl.get("Parameters", "RealTime")
	assert.Equal(t, "Disabled", param.get("Default").str(), "real time is off by default")
	assert.Equal(t, []string{"Disabled", "Enabled"}, param.get("AllowedValues").strings(), "RealTime's values")

	off := deployment(tpl, "us-east-1", nil)
	realTime := []string{"EventBus", "EventRule", "EventQueue", "EventDeadLetterQueue", "EventQueuePolicy", "EventDeadLetterAlarm",
		"EventFunction", "EventLogGroup", "EventFunctionRole", "EventRuleStackSet"}
	management := []string{"ManagementAccountEventForwardRole", "ManagementAccountEventRule"}
	for _, tt := range []struct {
		name      string
		region    string
		overrides map[string]string
		want      []string
	}{
		{"Enabled in the management account, us-east-1", "us-east-1", realTimeOn, append(slices.Clone(realTime), management...)},
		{"Enabled in the management account, eu-west-1", "eu-west-1", realTimeOn, realTime},
		{"Enabled from a delegated administrator", "us-east-1", map[string]string{"RealTime": "Enabled", "OrganizationId": "o-a1b2c3d4e5", "StackSetCallAs": "DELEGATED_ADMIN"}, realTime},
		{"Disabled with an organization ID", "us-east-1", map[string]string{"OrganizationId": "o-a1b2c3d4e5"}, nil},
	} {
		on := deployment(tpl, tt.region, tt.overrides)
		base := deployment(tpl, tt.region, nil)
		if sc := tt.overrides["StackSetCallAs"]; sc != "" {
			base["StackSetCallAs"] = sc
		}
		with, without := created(t, tpl, "Resources", on), created(t, tpl, "Resources", base)
		assert.Subset(t, with, without, "%s: every resource of the disabled template stays", tt.name)
		var added []string
		for _, r := range with {
			if !slices.Contains(without, r) {
				added = append(added, r)
			}
		}
		assert.ElementsMatch(t, tt.want, added, "%s: the resources real time adds", tt.name)
	}
	for _, name := range created(t, tpl, "Resources", off) {
		assert.NotContains(t, realTime, name, "disabled: no %s", name)
		assert.NotContains(t, management, name, "disabled: no %s", name)
	}
	for _, name := range []string{"EventBusArn", "EventDeadLetterQueueUrl", "ManagementAccountEvents"} {
		assert.NotContains(t, created(t, tpl, "Outputs", off), name, "disabled: no %s output", name)
		assert.Contains(t, created(t, tpl, "Outputs", deployment(tpl, "us-east-1", realTimeOn)), name, "enabled: the %s output", name)
	}

	// The member roles trust the event function's role only when it exists.
	ss := tpl.get("Resources", "MemberRoleStackSet")
	assert.Equal(t, []string{"RealTimeOn", "EventFunctionRole.Arn", ""}, paramValueNode(ss, "EventRoleArn").strings(), "the StackSet passes the event role, else nothing")
	member := parseYAML(t, []byte(ss.get("Properties", "TemplateBody").str()))
	assert.False(t, evalCondition(t, member, "RealTime", map[string]string{"EventRoleArn": ""}), "member role, disabled: the nightly role only")
	assert.True(t, evalCondition(t, member, "RealTime", map[string]string{"EventRoleArn": "arn:aws:iam::111111111111:role/events"}), "member role, enabled: the event role too")
	for name, principal := range map[string]node{
		"StackSet member role":   seq(member.get("Resources", "KeyAuditRole", "Properties", "AssumeRolePolicyDocument", "Statement"))[0].get("Principal", "AWS"),
		"management member role": seq(tpl.get("Resources", "ManagementAccountMemberRole", "Properties", "AssumeRolePolicyDocument", "Statement"))[0].get("Principal", "AWS"),
	} {
		require.Equal(t, "!If", principal.Tag, "%s: the trusted principals depend on real time", name)
		require.Len(t, principal.Content, 3, "%s: the !If", name)
		assert.Contains(t, []string{"RealTime", "RealTimeOn"}, principal.Content[0].Value, "%s: on real time", name)
		assert.Len(t, node{principal.Content[1]}.strings(), 2, "%s, enabled: the nightly role and the event role", name)
		assert.Len(t, node{principal.Content[2]}.strings(), 1, "%s, disabled: the nightly role only", name)
	}

	// Enabled without the organization's ID, the bus would admit nobody:
	// the template's rule refuses the deploy.
	rule := tpl.get("Rules", "RealTimeNeedsOrganizationId")
	require.NotNil(t, rule.Node, "a rule checks OrganizationId")
	assertion := seq(rule.get("Assertions"))
	require.Len(t, assertion, 1, "one assertion")
	for _, tt := range []struct {
		params         map[string]string
		applies, holds bool
	}{
		{map[string]string{"RealTime": "Enabled", "OrganizationId": ""}, true, false},
		{map[string]string{"RealTime": "Enabled", "OrganizationId": "o-a1b2c3d4e5"}, true, true},
		{map[string]string{"RealTime": "Disabled", "OrganizationId": ""}, false, false},
	} {
		assert.Equal(t, tt.applies, evalNode(t, tpl, rule.get("RuleCondition").Node, tt.params), "%v: the rule applies", tt.params)
		assert.Equal(t, tt.holds, evalNode(t, tpl, assertion[0].get("Assert").Node, tt.params), "%v: the assertion holds", tt.params)
	}
}

// paramValueNode is the node a StackSet passes its template's parameter key.
func paramValueNode(ss node, key string) node {
	for _, p := range seq(ss.get("Properties", "Parameters")) {
		if p.get("ParameterKey").str() == key {
			return p.get("ParameterValue")
		}
	}
	return node{}
}

// Issue 23: the central bus admits the organization's accounts only; its
// rule queues the events of the contract, which every account's rule (the
// StackSet's, in us-east-1 whatever this stack's region, and the
// management account's) forwards through a role allowed only to put
// events on that bus.
func TestTemplateRealTimeBusAndRules(t *testing.T) {
	tpl := template(t)
	res := tpl.get("Resources")
	bus := res.get("EventBus", "Properties")
	policy := seq(bus.get("Policy", "Statement"))
	require.Len(t, policy, 1, "one statement in the bus policy")
	st := policy[0]
	assert.Equal(t, "Allow", st.get("Effect").str(), "the bus policy allows")
	assert.Equal(t, "*", st.get("Principal").str(), "any principal …")
	assert.Equal(t, []string{"events:PutEvents"}, st.get("Action").strings(), "… to put events …")
	assert.Equal(t, []string{"StringEquals"}, keys(st.get("Condition")), "… under one condition")
	assert.Equal(t, []string{"aws:PrincipalOrgID"}, keys(st.get("Condition", "StringEquals")), "the principal's organization")
	assert.Equal(t, "OrganizationId", st.get("Condition", "StringEquals", "aws:PrincipalOrgID").str(), "is the OrganizationId parameter")
	assert.Equal(t, "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/"+bus.get("Name").str(), st.get("Resource").str(), "on this bus")

	pattern := eventPattern(t, tpl)
	branches, _ := pattern["$or"].([]any)
	require.Len(t, branches, 2, "the pattern: IAM's calls or AWS Health's exposed key")
	assert.Equal(t, map[string]any{
		"source":      []any{"aws.iam"},
		"detail-type": []any{"AWS API Call via CloudTrail"},
		"detail":      map[string]any{"errorCode": []any{map[string]any{"exists": false}}, "eventName": field(branches[0], "detail", "eventName")},
	}, branches[0], "CloudTrail's IAM calls that succeeded")
	var calls []string
	for _, c := range field(branches[0], "detail", "eventName").([]any) {
		calls = append(calls, c.(string))
	}
	assert.ElementsMatch(t, realTimeCalls, calls, "the calls keyaudit judges")
	assert.Equal(t, map[string]any{
		"source":      []any{"aws.health"},
		"detail-type": []any{"AWS Health Event"},
		"detail":      map[string]any{"eventTypeCode": []any{"AWS_RISK_CREDENTIALS_EXPOSED"}},
	}, branches[1], "AWS Health's exposed key")

	usesPattern := func(what string, p node) {
		t.Helper()
		assert.Equal(t, "!FindInMap", p.Tag, "%s's pattern is the mapping's", what)
		assert.Equal(t, []string{"Events", "Pattern", "Json"}, p.strings(), "%s's pattern is the one every rule uses", what)
	}
	central := res.get("EventRule", "Properties")
	assert.Equal(t, "EventBus", central.get("EventBusName").str(), "the central rule is on the central bus")
	usesPattern("the central rule", central.get("EventPattern"))
	targets := seq(central.get("Targets"))
	require.Len(t, targets, 1, "the central rule has one target")
	assert.Equal(t, "EventQueue.Arn", targets[0].get("Arn").str(), "the queue")
	assert.Equal(t, "EventDeadLetterQueue.Arn", targets[0].get("DeadLetterConfig", "Arn").str(), "what cannot be queued goes to the dead-letter queue")

	// Every account: a StackSet in us-east-1, where IAM's events are.
	ss := res.get("EventRuleStackSet", "Properties")
	groups := seq(ss.get("StackInstancesGroup"))
	require.Len(t, groups, 1, "one group of stack instances")
	assert.Equal(t, []string{"us-east-1"}, groups[0].get("Regions").strings(), "the rule goes to us-east-1, not to StackSetRegion")
	assert.Equal(t, "OrganizationRootOrOuIds", groups[0].get("DeploymentTargets", "OrganizationalUnitIds").str(), "the member role's accounts")
	assert.Equal(t, "SERVICE_MANAGED", ss.get("PermissionModel").str(), "service-managed, like the member role's")
	assert.Equal(t, "StackSetCallAs", ss.get("CallAs").str(), "created as the deploying account is")
	assert.Equal(t, "true", ss.get("AutoDeployment", "Enabled").str(), "new accounts get the rule")
	assert.Equal(t, "EventBus.Arn", paramValue(res.get("EventRuleStackSet"), "EventBusArn"), "forwarding to the central bus")
	forwarder := parseYAML(t, []byte(eventsTemplate(t, tpl))).get("Resources")
	assert.Equal(t, "${AWS::StackName}-events", ss.get("StackSetName").str(), "named after the stack")
	assert.Contains(t, outputText(t, tpl, "ManagementAccountEvents"), "--stack-set-name "+ss.get("StackSetName").str(),
		"the ManagementAccountEvents output names the StackSet by the same name")
	assert.Contains(t, outputText(t, tpl, "ManagementAccountEvents"), "--region us-east-1", "and deploys its template in us-east-1")

	management := res.get("ManagementAccountEventRule", "Properties")
	usesPattern("the management account's rule", management.get("EventPattern"))
	for name, rule := range map[string]struct {
		rule, role   node
		bus, roleArn string
	}{
		"StackSet":           {forwarder.get("ForwardRule", "Properties"), forwarder.get("ForwardRole"), "EventBusArn", "ForwardRole.Arn"},
		"management account": {management, res.get("ManagementAccountEventForwardRole"), "EventBus.Arn", "ManagementAccountEventForwardRole.Arn"},
	} {
		assert.Nil(t, rule.rule.get("EventBusName").Node, "%s: the rule is on the default bus, where IAM and Health deliver", name)
		targets := seq(rule.rule.get("Targets"))
		require.Len(t, targets, 1, "%s: one target", name)
		assert.Equal(t, rule.bus, targets[0].get("Arn").str(), "%s: the central bus", name)
		// A bus granted to an organization is a target only through a role
		// (EventBridge's PutTargets).
		assert.Equal(t, rule.roleArn, targets[0].get("RoleArn").str(), "%s: through its role", name)
		statements := roleStatements(rule.role)
		require.Len(t, statements, 1, "%s: the role has one statement", name)
		assert.Equal(t, []string{"events:PutEvents"}, statements[0].get("Action").strings(), "%s: the role may only put events", name)
		assert.Equal(t, rule.bus, statements[0].get("Resource").str(), "%s: on the central bus", name)
		trust := seq(rule.role.get("Properties", "AssumeRolePolicyDocument", "Statement"))
		require.Len(t, trust, 1, "%s: one trust statement", name)
		assert.Equal(t, "events.amazonaws.com", trust[0].get("Principal", "Service").str(), "%s: assumed by EventBridge", name)
		assert.Equal(t, "AWS::AccountId", trust[0].get("Condition", "StringEquals", "aws:SourceAccount").str(), "%s: for this account's rules", name)
	}
	var written map[string]any
	require.NoError(t, forwarder.get("ForwardRule", "Properties", "EventPattern").Decode(&written), "the StackSet's rule's pattern")
	assert.Equal(t, pattern, written, "the StackSet's rule forwards the pattern's events")
}

// Issue 23: the queue is encrypted with SSE-SQS (EventBridge cannot use
// the AWS-managed SQS KMS key), admits the central rule only, gives the
// function 6 times its timeout per receive, and sends what fails five
// times to a dead-letter queue whose depth raises an alarm.
func TestTemplateRealTimeQueue(t *testing.T) {
	tpl := template(t)
	res := tpl.get("Resources")
	for _, q := range []string{"EventQueue", "EventDeadLetterQueue"} {
		p := res.get(q, "Properties")
		assert.Equal(t, "true", p.get("SqsManagedSseEnabled").str(), "%s: SSE-SQS", q)
		assert.Nil(t, p.get("KmsMasterKeyId").Node, "%s: no KMS key EventBridge could not use", q)
	}
	queue := res.get("EventQueue", "Properties")
	assert.Equal(t, "EventDeadLetterQueue.Arn", queue.get("RedrivePolicy", "deadLetterTargetArn").str(), "the queue's dead-letter queue")
	receives, err := strconv.Atoi(queue.get("RedrivePolicy", "maxReceiveCount").str())
	require.NoError(t, err, "maxReceiveCount")
	assert.GreaterOrEqual(t, receives, 3, "a transient failure is retried before it is dead")
	visibility, err := strconv.Atoi(queue.get("VisibilityTimeout").str())
	require.NoError(t, err, "the queue's visibility timeout")
	timeout, err := strconv.Atoi(res.get("EventFunction", "Properties", "Timeout").str())
	require.NoError(t, err, "the event function's timeout")
	assert.GreaterOrEqual(t, visibility, 6*timeout, "AWS: a Lambda event source's visibility timeout is at least 6 times the function's")

	statements := seq(res.get("EventQueuePolicy", "Properties", "PolicyDocument", "Statement"))
	assert.ElementsMatch(t, []string{"EventQueue", "EventDeadLetterQueue"}, res.get("EventQueuePolicy", "Properties", "Queues").strings(), "the policy is on both queues")
	var allows int
	for _, st := range statements {
		if st.get("Effect").str() != "Allow" {
			continue
		}
		allows++
		assert.Equal(t, "events.amazonaws.com", st.get("Principal", "Service").str(), "EventBridge only")
		assert.Equal(t, []string{"sqs:SendMessage"}, st.get("Action").strings(), "may send only")
		assert.ElementsMatch(t, []string{"EventQueue.Arn", "EventDeadLetterQueue.Arn"}, st.get("Resource").strings(), "to the queue and, failing that, the dead-letter queue")
		assert.Equal(t, "EventRule.Arn", st.get("Condition", "ArnEquals", "aws:SourceArn").str(), "for the central rule only")
	}
	assert.Equal(t, 1, allows, "one statement allows")

	alarm := res.get("EventDeadLetterAlarm", "Properties")
	m, _ := alarmMetrics(res.get("EventDeadLetterAlarm"))
	assert.Equal(t, [][2]string{{"AWS/SQS", "ApproximateNumberOfMessagesVisible"}}, m, "the dead-letter queue's depth")
	dims := seq(alarm.get("Dimensions"))
	require.Len(t, dims, 1, "one dimension")
	assert.Equal(t, []string{"QueueName", "EventDeadLetterQueue.QueueName"}, []string{dims[0].get("Name").str(), dims[0].get("Value").str()}, "of the dead-letter queue")
	assert.Equal(t, "1", alarm.get("Threshold").str(), "one event not judged is enough")
	assert.Equal(t, "GreaterThanOrEqualToThreshold", alarm.get("ComparisonOperator").str(), "at least one")
	assert.Equal(t, []string{"AlarmTopic"}, alarm.get("AlarmActions").strings(), "to the alarm topic")
	period, err := strconv.Atoi(alarm.get("Period").str())
	require.NoError(t, err, "the alarm's period")
	assert.LessOrEqual(t, period, 300, "a key not judged is told within minutes, not at the end of an hour")
}

// Issue 23: the event function is the nightly binary with the nightly
// settings (Globals), reads the queue in batches with partial batch
// responses, and has a reservation of its own: the nightly run keeps 1.
func TestTemplateEventFunction(t *testing.T) {
	tpl := template(t)
	const fn = "EventFunction"
	for path, want := range map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap", "CodeUri": "."} {
		assert.Equal(t, want, functionProperty(tpl, fn, path).str(), "%s: %s, as the nightly function", fn, path)
	}
	assert.Equal(t, []string{"arm64"}, functionProperty(tpl, fn, "Architectures").strings(), "the nightly function's architecture")
	assert.Equal(t, "makefile", tpl.get("Resources", fn, "Metadata", "BuildMethod").str(), "built by make build-%s", fn)
	makefile, err := os.ReadFile("../Makefile")
	require.NoError(t, err, "the Makefile")
	assert.Regexp(t, `(?m)^build-KeyAuditFunction\b.*\bbuild-EventFunction:`, string(makefile), "make build-EventFunction builds the one binary")
	p := tpl.get("Resources", fn, "Properties")
	assert.Nil(t, p.get("Environment").Node, "the nightly settings (Globals), not a copy")
	assert.Equal(t, "EventFunctionRole.Arn", p.get("Role").str(), "its own role")
	assert.Equal(t, "EventLogGroup", functionProperty(tpl, fn, "LoggingConfig", "LogGroup").str(), "its own log group")

	assert.Equal(t, "EventConcurrency", p.get("ReservedConcurrentExecutions").str(), "its own reservation")
	assert.Equal(t, "1", tpl.get("Resources", "KeyAuditFunction", "Properties", "ReservedConcurrentExecutions").str(), "the nightly run's stays 1")
	param := tpl.get("Parameters", "EventConcurrency")
	assert.Equal(t, "2", param.get("Default").str(), "two invocations at once by default")
	min, err := strconv.Atoi(param.get("MinValue").str())
	require.NoError(t, err, "EventConcurrency's MinValue")
	assert.GreaterOrEqual(t, min, 2, "SQS's event source scales to no fewer than 2")

	timeout, err := strconv.Atoi(p.get("Timeout").str())
	require.NoError(t, err, "the event function's timeout")
	nightly, err := strconv.Atoi(tpl.get("Globals", "Function", "Timeout").str())
	require.NoError(t, err, "the nightly timeout")
	assert.Less(t, timeout, nightly/5, "a batch of events takes seconds, not the night's 15 minutes")

	events := mapping(p.get("Events"))
	require.Len(t, events, 1, "one event source")
	for name, ev := range events {
		assert.Equal(t, "SQS", ev.get("Type").str(), "%s: the queue", name)
		q := ev.get("Properties")
		assert.Equal(t, "EventQueue.Arn", q.get("Queue").str(), "%s: the central rule's queue", name)
		assert.Equal(t, []string{"ReportBatchItemFailures"}, q.get("FunctionResponseTypes").strings(), "%s: partial batch responses", name)
		size, err := strconv.Atoi(q.get("BatchSize").str())
		require.NoError(t, err, "%s: a batch size", name)
		assert.True(t, size >= 1 && size <= 10, "%s: a batch of at most 10 (got %d) fits the function's timeout", name, size)
		window, err := strconv.Atoi(q.get("MaximumBatchingWindowInSeconds").str())
		require.NoError(t, err, "%s: a batching window", name)
		assert.True(t, window >= 1 && window <= 5, "%s: a window of seconds (got %d) keeps an event's judgement within the minute", name, window)
		assert.Equal(t, "EventConcurrency", q.get("ScalingConfig", "MaximumConcurrency").str(), "%s: no more pollers than the reservation", name)
	}
}

// orgReads are the Organizations reads: their resources are named by the
// organization's ID, which the template cannot know, so they are the only
// statements on "*".
var orgReads = []string{"organizations:ListAccounts", "organizations:DescribeAccount", "organizations:DescribeOrganization", "organizations:ListParents",
	"organizations:ListPoliciesForTarget", "organizations:DescribePolicy"}

// eventImpliedActions are granted to the event function although the code
// calls no such API: Lambda and S3 need them to serve the calls it makes.
var eventImpliedActions = []string{
	"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", // Lambda's SQS event source polls with the function's role
	"s3:ListBucket",                      // a missing latest.json (no night yet) or event record is a 404, not a 403
	"kms:GenerateDataKey", "kms:Decrypt", // a customer KMS key on the bucket, the secrets or the config
	"logs:CreateLogStream", "logs:PutLogEvents", // Lambda writes its logs with its role
}

// Issue 23: the event function's role grants exactly what it calls: the
// nightly role's reads (the organization, the member role, the secrets,
// the config), Security Hub's import, and S3 only for its event records
// and the last nightly report; nothing that writes a report or acts.
func TestTemplateEventFunctionRole(t *testing.T) {
	tpl := template(t)
	role := tpl.get("Resources", "EventFunctionRole")
	statements := roleStatements(role)
	want := slices.Clone(audit.EventFunctionActions)
	want = append(want, "securityhub:BatchImportFindings")
	want = append(want, eventImpliedActions...)
	sameSet(t, "the event function role", actions(statements), want)
	assert.Nil(t, role.get("Properties", "ManagedPolicyArns").Node, "no managed policy")
	assert.Equal(t, []string{"lambda.amazonaws.com"}, seq(role.get("Properties", "AssumeRolePolicyDocument", "Statement"))[0].get("Principal", "Service").strings(), "assumed by Lambda")

	doc := seq(role.get("Properties", "Policies"))[0].get("PolicyDocument", "Statement")
	sids := statementsBySid(doc)
	for _, st := range statements {
		acts, resource := st.get("Action").strings(), strings.Join(st.get("Resource").strings(), " ")
		for _, a := range acts {
			switch {
			case a == "sts:AssumeRole":
				assert.Equal(t, "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}", resource, "the member role only, never the remediation role")
				assert.Equal(t, "${aws:PrincipalOrgID}", st.get("Condition", "StringEquals", "aws:ResourceOrgID").str(), "of this organization only")
			case a == "s3:PutObject":
				assert.Equal(t, "${ReportsBucket.Arn}/keyaudit/events/*", resource, "writes only event records")
			case a == "s3:GetObject":
				assert.Contains(t, []string{"${ReportsBucket.Arn}/keyaudit/events/*", "${ReportsBucket.Arn}/keyaudit/latest.json"}, resource,
					"reads event records and the last nightly report only")
			case strings.HasPrefix(a, "sqs:"):
				assert.Equal(t, "EventQueue.Arn", resource, "%s on the event queue only", a)
			case strings.HasPrefix(a, "logs:"):
				assert.Equal(t, "EventLogGroup.Arn", resource, "%s on its own log group only", a)
			case resource == "*":
				assert.Contains(t, orgReads, a, "only the Organizations reads have no resource to name")
			}
		}
	}
	for sid, cond := range map[string]string{"SecurityHubImport": "SecurityHubEnabled", "ReportsKmsKey": "HasKmsKey", "SecretsKmsKey": "HasSecretsKey"} {
		assert.Equal(t, cond, conditionOf(doc, sid), "%s only under %s", sid, cond)
	}
	nightly := statementsBySid(seq(tpl.get("Resources", "KeyAuditFunctionRole", "Properties", "Policies"))[0].get("PolicyDocument", "Statement"))
	for _, sid := range []string{"Secrets", "SecretsKmsKey", "Config", "ReportsKmsKey", "SecurityHubImport", "ReadServiceControlPolicies"} {
		assert.Equal(t, nightly[sid].get("Resource").strings(), sids[sid].get("Resource").strings(), "%s: the same resources as the nightly role's", sid)
		assert.Equal(t, nightly[sid].get("Action").strings(), sids[sid].get("Action").strings(), "%s: the same actions as the nightly role's", sid)
	}

	// The bucket lets it write its event records and nothing else.
	bucket := tpl.get("Resources", "ReportsBucketPolicy", "Properties", "PolicyDocument", "Statement")
	deny := statementsBySid(bucket)["EventFunctionWritesEventRecordsOnly"]
	require.NotNil(t, deny.Node, "the bucket policy bounds the event function")
	assert.Equal(t, "RealTimeOn", conditionOf(bucket, "EventFunctionWritesEventRecordsOnly"), "only in real time")
	assert.Equal(t, "Deny", deny.get("Effect").str(), "denies")
	assert.Subset(t, deny.get("Action").strings(), []string{"s3:PutObject", "s3:DeleteObject"}, "writing and removing")
	assert.Equal(t, "${ReportsBucket.Arn}/keyaudit/events/*", deny.get("NotResource").str(), "anything but the event records")
	assert.Equal(t, "EventFunctionRole.Arn", deny.get("Condition", "ArnEquals", "aws:PrincipalArn").str(), "to the event function's role")
}

// Issue 23: moto's EventBridge (written by others) matches the template's
// event pattern as the rules would: each call of the contract and AWS
// Health's exposed key reach the queue; a failed call, another call,
// another Health event and a custom event do not.
func TestEventPatternAgainstMoto(t *testing.T) {
	srv := moto.Start(t)
	dir := t.TempDir()
	sh := shell(t, srv, dir)
	pattern, err := json.Marshal(eventPattern(t, template(t)))
	require.NoError(t, err, "encode the pattern")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pattern.json"), pattern, 0o600), "write the pattern")
	// The CLI v1 on this machine sends SQS calls to its legacy endpoint,
	// not AWS_ENDPOINT_URL's.
	url := sh("aws sqs --endpoint-url \"$AWS_ENDPOINT_URL\" create-queue --queue-name keyaudit-events --attributes VisibilityTimeout=900 --query QueueUrl --output text")
	arn := sh("aws sqs --endpoint-url \"$AWS_ENDPOINT_URL\" get-queue-attributes --queue-url " + url + " --attribute-names QueueArn --query Attributes.QueueArn --output text")
	sh("aws events put-rule --name keyaudit-events --event-pattern file://pattern.json")
	sh("aws events put-targets --rule keyaudit-events --targets Id=queue,Arn=" + arn)

	cloudTrail := func(id, call string, extra map[string]any) map[string]any {
		detail := map[string]any{"eventVersion": "1.08", "eventID": id, "eventSource": "iam.amazonaws.com", "eventName": call,
			"awsRegion": "us-east-1", "recipientAccountId": "111111111111", "userIdentity": map[string]any{"type": "IAMUser", "userName": "admin"}}
		maps.Copy(detail, extra)
		return map[string]any{"Source": "aws.iam", "DetailType": "AWS API Call via CloudTrail", "Detail": detail}
	}
	health := func(id, code string) map[string]any {
		return map[string]any{"Source": "aws.health", "DetailType": "AWS Health Event", "Detail": map[string]any{"eventID": id,
			"service": "RISK", "eventTypeCode": code, "affectedEntities": []any{map[string]any{"entityValue": "AKIAIOSFODNN7EXAMPLE"}}}}
	}
	var entries []map[string]any
	var want []string
	for _, call := range realTimeCalls {
		entries = append(entries, cloudTrail(call, call, nil))
		want = append(want, call)
	}
	entries = append(entries,
		cloudTrail("root", "CreateAccessKey", map[string]any{"userIdentity": map[string]any{"type": "Root"}}),
		health("exposed", "AWS_RISK_CREDENTIALS_EXPOSED"),
		cloudTrail("failed", "CreateAccessKey", map[string]any{"errorCode": "LimitExceeded", "errorMessage": "Cannot exceed quota"}),
		cloudTrail("deleted", "DeleteAccessKey", nil),
		cloudTrail("listed", "ListAccessKeys", nil),
		health("other-health", "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"),
		map[string]any{"Source": "keyaudit.test", "DetailType": "AWS API Call via CloudTrail", "Detail": map[string]any{"eventID": "custom", "eventName": "CreateAccessKey"}},
	)
	want = append(want, "root", "exposed")
	for _, e := range entries {
		d, err := json.Marshal(e["Detail"])
		require.NoError(t, err, "encode a detail")
		e["Detail"] = string(d)
	}
	// PutEvents takes 10 entries at most.
	for i := 0; i < len(entries); i += 10 {
		body, err := json.Marshal(entries[i:min(i+10, len(entries))])
		require.NoError(t, err, "encode the entries")
		file := "entries" + strconv.Itoa(i) + ".json"
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), body, 0o600), "write the entries")
		sh("aws events put-events --entries file://" + file)
	}

	var got []string
	for {
		// A received message stays invisible for the test's length (15
		// minutes): the loop ends when all were received.
		out := sh("aws sqs --endpoint-url \"$AWS_ENDPOINT_URL\" receive-message --queue-url " + url + " --max-number-of-messages 10 --query 'Messages[].Body' --output json")
		var msgs []string
		require.NoError(t, json.Unmarshal([]byte(cmp.Or(out, "null")), &msgs), "the received messages: %s", out)
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			var ev struct {
				Detail struct {
					EventID string `json:"eventID"`
				} `json:"detail"`
			}
			require.NoError(t, json.Unmarshal([]byte(m), &ev), "a queued event: %s", m)
			got = append(got, ev.Detail.EventID)
		}
	}
	assert.ElementsMatch(t, want, got, "the events the pattern queues")
}

// shell runs a command as a person would paste it, with the aws CLI
// acting as the management account against srv, and returns its trimmed
// standard output; a command that fails fails the test.
func shell(t *testing.T, srv *moto.Server, dir string) func(command string) string {
	return func(command string) string {
		t.Helper()
		res := srv.Shell(t.Context(), dir, moto.Management, command)
		require.NoError(t, res.Err, "%s\nstdout: %s\nstderr: %s", command, res.Stdout, res.Stderr)
		return strings.TrimSpace(res.Stdout)
	}
}

// outputText is the text of a ManagementAccount* output's commands, the
// !If's other branch, its variables unset.
func outputText(t *testing.T, tpl node, output string) string {
	t.Helper()
	sub := tpl.get("Outputs", output, "Value").Content[2]
	require.Equal(t, "!Sub", sub.Tag, "%s: the commands are the !If's other branch", output)
	if sub.Kind == yaml.SequenceNode { // !Sub [text, variables]
		return sub.Content[0].Value
	}
	return sub.Value
}

// outputCommands are the two commands of a ManagementAccount* output, the
// !If's other branch, with the variables known here: one to run where the
// stack is, one with the management account's credentials.
func outputCommands(t *testing.T, tpl node, output string, vars *strings.Replacer) (here, there string) {
	t.Helper()
	text := vars.Replace(outputText(t, tpl, output))
	require.NotContains(t, text, "${", "%s: every variable is known here", output)
	here, there, ok := strings.Cut(strings.TrimPrefix(text, "Here: "), "; then with management-account credentials: ")
	require.True(t, ok, "%s: two commands: %s", output, text)
	return here, there
}

// Issues 21 and 23: the ManagementAccount* outputs' commands, as written,
// give the management account the StackSets' copies (against moto): the
// member role, trusting the nightly function's role and, with real time on,
// the event function's, and the us-east-1 rule forwarding the events to
// the central bus.
func TestManagementAccountOutputsAgainstMoto(t *testing.T) {
	tpl := template(t)
	const (
		bus       = "arn:aws:events:eu-west-1:123456789012:event-bus/keyaudit-events"
		auditor   = "arn:aws:iam::123456789012:role/keyaudit-KeyAuditFunctionRole"
		eventRole = "arn:aws:iam::123456789012:role/keyaudit-EventFunctionRole"
	)
	// The EventRoleArn variable is the event function's role with real time
	// on, else empty.
	for _, role := range []string{eventRole, ""} {
		srv := moto.Start(t)
		dir := t.TempDir()
		sh := shell(t, srv, dir)
		vars := strings.NewReplacer("${StackSetCallAs}", "SELF", "${AWS::StackName}", "keyaudit", "${EventBus.Arn}", bus,
			"${KeyAuditFunctionRole.Arn}", auditor, "${MemberRoleName}", "KeyAuditRole", "${EventRoleArn}", role)
		for file, body := range map[string]string{"member-role.yaml": tpl.get("Resources", "MemberRoleStackSet", "Properties", "TemplateBody").str(),
			"events.yaml": eventsTemplate(t, tpl)} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(body), 0o600), "the StackSet's template %s", file)
		}
		sh("aws cloudformation create-stack-set --stack-set-name keyaudit-member-role --template-body file://member-role.yaml --capabilities CAPABILITY_NAMED_IAM " +
			"--parameters ParameterKey=AuditorRoleArn,ParameterValue=" + auditor + " ParameterKey=RoleName,ParameterValue=KeyAuditRole ParameterKey=ExternalId,ParameterValue=x")

		here, there := outputCommands(t, tpl, "ManagementAccountRole", vars)
		sh(here)
		sh(there)
		trust := sh("aws iam get-role --role-name KeyAuditRole --query 'Role.AssumeRolePolicyDocument' --output json")
		assert.Contains(t, trust, auditor, "the member role trusts the nightly function's role")
		assert.Contains(t, trust, "YOUR-EXTERNAL-ID", "with the external ID given")
		if role == "" {
			assert.NotContains(t, trust, eventRole, "real time off: the nightly function's role alone")
			continue
		}
		assert.Contains(t, trust, eventRole, "real time on: the event function's role too")

		sh("aws cloudformation create-stack-set --stack-set-name keyaudit-events --template-body file://events.yaml --capabilities CAPABILITY_IAM " +
			"--parameters ParameterKey=EventBusArn,ParameterValue=" + bus)
		here, there = outputCommands(t, tpl, "ManagementAccountEvents", vars)
		sh(here)
		sh(there)
		rule := sh("aws events list-rules --region us-east-1 --query 'Rules[0].Name' --output text")
		require.NotEqual(t, "None", rule, "a rule in us-east-1")
		assert.Equal(t, bus, sh("aws events list-targets-by-rule --region us-east-1 --rule "+rule+" --query 'Targets[0].Arn' --output text"), "forwarding to the central bus")
		var pattern, want any
		require.NoError(t, json.Unmarshal([]byte(sh("aws events describe-rule --region us-east-1 --name "+rule+" --query EventPattern --output text")), &pattern), "the rule's pattern")
		require.NoError(t, json.Unmarshal([]byte(tpl.get("Mappings", "Events", "Pattern", "Json").str()), &want), "the template's pattern")
		assert.Equal(t, want, pattern, "the StackSet's pattern")
	}
}
