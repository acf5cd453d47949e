package deliver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/keyaudit/keyaudit/rules"
)

// hubCalls counts Security Hub requests by path and answers the first
// `throttle` imports with Security Hub's throttling error.
type hubCalls struct {
	mu       sync.Mutex
	byPath   map[string]int
	throttle int
}

func (c *hubCalls) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.byPath[req.URL.Path]++
	throttled := req.URL.Path == "/findings/import" && c.throttle > 0
	if throttled {
		c.throttle--
	}
	c.mu.Unlock()
	if throttled {
		return &http.Response{StatusCode: http.StatusTooManyRequests, Request: req,
			Header: http.Header{"X-Amzn-Errortype": {"TooManyRequestsException"}, "Content-Type": {"application/json"}},
			Body:   io.NopCloser(strings.NewReader(`{"message":"Rate exceeded"}`))}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (c *hubCalls) imports() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPath["/findings/import"]
}

// motoHub is the real client against moto_server. moto 5.2.1 does not
// implement BatchUpdateFindings, so those calls are recorded here instead;
// moto applies an import's Workflow to an existing finding (AWS does not).
type motoHub struct {
	*securityhub.Client
	mu      sync.Mutex
	updates map[types.WorkflowStatus][]string
}

func (m *motoHub) BatchUpdateFindings(_ context.Context, in *securityhub.BatchUpdateFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range in.FindingIdentifiers {
		m.updates[in.Workflow.Status] = append(m.updates[in.Workflow.Status], aws.ToString(id.Id))
	}
	return &securityhub.BatchUpdateFindingsOutput{ProcessedFindings: in.FindingIdentifiers}, nil
}

// newMotoHub starts moto_server and returns a sink acting in its default
// account, the client's request counter and the hub.
func newMotoHub(t *testing.T) (*deliver.SecurityHub, *hubCalls, *motoHub) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := moto.Start(t)
	calls := &hubCalls{byPath: map[string]int{}}
	cfg := srv.Config(moto.Management)
	cfg.Retryer = audit.Retryer
	client := securityhub.NewFromConfig(cfg, func(o *securityhub.Options) { o.HTTPClient = &http.Client{Transport: calls} })
	_, err := client.EnableSecurityHub(context.Background(), &securityhub.EnableSecurityHubInput{})
	require.NoError(t, err, "enable Security Hub in moto")
	hub := &motoHub{Client: client, updates: map[types.WorkflowStatus][]string{}}
	return &deliver.SecurityHub{Client: hub, Partition: "aws", Region: moto.Region, Account: moto.ManagementAccount}, calls, hub
}

// hubFindings reads every finding back with GetFindings, by Id.
func hubFindings(t *testing.T, client *securityhub.Client) map[string]types.AwsSecurityFinding {
	t.Helper()
	out := map[string]types.AwsSecurityFinding{}
	p := securityhub.NewGetFindingsPaginator(client, &securityhub.GetFindingsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err, "get findings")
		for _, f := range page.Findings {
			out[aws.ToString(f.Id)] = f
		}
	}
	return out
}

func TestSecurityHubImportsAndArchives(t *testing.T) {
	ctx := context.Background()
	sink, calls, hub := newMotoHub(t)
	productARN := "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
	assert.Equal(t, productARN, sink.ProductARN(), "the default product of the aggregating account")

	first := reporttest.WithActions(fixture())
	base, res, err := sink.Import(ctx, first, nil, "https://example.com/report.html")
	require.NoError(t, err, "import the first run")
	assert.Equal(t, deliver.ImportResult{Imported: 3}, res, "the first run imports everything")
	got := hubFindings(t, hub.Client)
	require.Len(t, got, 3, "every finding imported")

	rotation, ok := got[fixtureID(1)]
	require.True(t, ok, "the rotation finding is found by its stable id")
	assert.Equal(t, productARN, aws.ToString(rotation.ProductArn), "product ARN")
	assert.Equal(t, "key-rotation", aws.ToString(rotation.GeneratorId), "generator is the rule")
	assert.Equal(t, "123456789012", aws.ToString(rotation.AwsAccountId), "the importing account")
	assert.Equal(t, "111111111111", rotation.ProductFields["keyaudit/account_id"], "the audited account")
	assert.Equal(t, []string{"Software and Configuration Checks/AWS Security Best Practices",
		"Industry and Regulatory Standards/CIS AWS Foundations Benchmark"}, rotation.Types, "types")
	assert.Equal(t, []string{"CIS AWS Foundations Benchmark v4.0.1/1.14", "CIS AWS Foundations Benchmark v5.0.0/1.13",
		"CIS AWS Foundations Benchmark v6.0.0/2.13"}, rotation.Compliance.RelatedRequirements, "CIS ids by version")
	assert.Equal(t, types.ComplianceStatusFailed, rotation.Compliance.Status, "compliance failed")
	assert.Equal(t, types.SeverityLabelMedium, rotation.Severity.Label, "severity")
	require.NotNil(t, rotation.FindingProviderFields, "provider fields")
	assert.Equal(t, types.SeverityLabelMedium, rotation.FindingProviderFields.Severity.Label, "provider severity")
	assert.Equal(t, rotation.Types, rotation.FindingProviderFields.Types, "provider types")
	assert.Equal(t, types.RecordStateActive, rotation.RecordState, "active")
	assert.Equal(t, types.WorkflowStatusNew, rotation.Workflow.Status, "new")
	// One voice: the recommendation is the key's action, as the plan in the description.
	assert.Equal(t, "Act on the key of =cmd|calc.", aws.ToString(rotation.Remediation.Recommendation.Text), "recommendation is the action's summary")
	assert.Contains(t, aws.ToString(rotation.Description), "\n\nAct on the key of =cmd|calc.\n1. ", "the description's plan starts with the same summary")
	assert.Equal(t, "An active IAM user key is older than the limit: rotate it — =cmd|calc AKIAAAAAAAAAAAAAAAA7 in prod (111111111111)", aws.ToString(rotation.Title), "the title names the key")
	assert.Equal(t, "https://example.com/report.html", aws.ToString(rotation.Remediation.Recommendation.Url), "link to the report")
	assert.Contains(t, aws.ToString(rotation.Description), "1. Create the new key.\n   aws iam create-access-key --user-name '=cmd|calc'", "plan in the description")
	assert.Equal(t, "2026-11-24T00:00:00Z", aws.ToString(rotation.CreatedAt), "created at as_of")
	assert.Equal(t, "2026-11-24T00:00:00Z", aws.ToString(rotation.FirstObservedAt), "first observed at as_of")
	require.Len(t, rotation.Resources, 2, "key and user")
	key := rotation.Resources[0]
	assert.Equal(t, "AwsIamAccessKey", aws.ToString(key.Type), "key resource")
	assert.Equal(t, "AKIAAAAAAAAAAAAAAAA7", aws.ToString(key.Id), "key ID")
	require.NotNil(t, key.Details, "key details")
	require.NotNil(t, key.Details.AwsIamAccessKey, "key details")
	assert.Equal(t, "=cmd|calc", aws.ToString(key.Details.AwsIamAccessKey.PrincipalName), "key's user (UserName is deprecated)")
	assert.Equal(t, "IAMUser", aws.ToString(key.Details.AwsIamAccessKey.PrincipalType), "key's principal type")
	assert.Equal(t, "111111111111", aws.ToString(key.Details.AwsIamAccessKey.AccountId), "key's account")
	assert.Equal(t, types.AwsIamAccessKeyStatusActive, key.Details.AwsIamAccessKey.Status, "key status")
	assert.Equal(t, "2026-04-26T00:00:00Z", aws.ToString(key.Details.AwsIamAccessKey.CreatedAt), "key creation")
	assert.Equal(t, "AwsIamUser", aws.ToString(rotation.Resources[1].Type), "user resource")
	assert.Equal(t, "arn:aws:iam::111111111111:user/=cmd|calc", aws.ToString(rotation.Resources[1].Id), "user ARN")

	root := got[fixtureID(0)]
	require.Len(t, root.Resources, 1, "a root key without ID: the user only")
	assert.Equal(t, "AwsIamUser", aws.ToString(root.Resources[0].Type), "root resource")
	assert.Equal(t, types.SeverityLabelCritical, root.Severity.Label, "root severity")
	suppressed := got[fixtureID(2)]
	assert.Equal(t, types.WorkflowStatusSuppressed, suppressed.Workflow.Status, "suppressed finding")
	assert.Contains(t, aws.ToString(suppressed.Description), "suppressed: mainframe retirement, INC-42 (until 2026-12-31)", "why it is suppressed")
	assert.Equal(t, []string{fixtureID(2)}, hub.updates[types.WorkflowStatusSuppressed], "suppression set by BatchUpdateFindings too")

	// The key is rotated: the next run no longer has the rotation finding.
	second := reporttest.WithActions(fixture())
	second.Findings = append(second.Findings[:1], second.Findings[2])
	second.GeneratedAt = second.GeneratedAt.AddDate(0, 0, 1)
	second.AsOf = second.AsOf.AddDate(0, 0, 1)
	second.Findings[0].Severity = rules.High // changed, so imported again
	_, res, err = sink.Import(ctx, second, base, "")
	require.NoError(t, err, "import the second run")
	assert.Equal(t, deliver.ImportResult{Imported: 2, Unchanged: 1}, res, "the second run imports the changed and the resolved finding")
	got = hubFindings(t, hub.Client)
	require.Len(t, got, 3, "the resolved finding stays, archived")
	rotation = got[fixtureID(1)]
	assert.Equal(t, types.RecordStateArchived, rotation.RecordState, "resolved finding archived")
	assert.Equal(t, types.WorkflowStatusResolved, rotation.Workflow.Status, "resolved finding's workflow")
	assert.Equal(t, types.ComplianceStatusPassed, rotation.Compliance.Status, "resolved finding passes")
	assert.Equal(t, []string{fixtureID(1)}, hub.updates[types.WorkflowStatusResolved], "resolution set by BatchUpdateFindings")
	for _, id := range []string{fixtureID(0), fixtureID(2)} {
		assert.Equal(t, types.RecordStateActive, got[id].RecordState, "case %s: still active", id)
	}
	assert.Equal(t, types.SeverityLabelHigh, got[fixtureID(0)].Severity.Label, "the changed finding's new severity")
	assert.Equal(t, "2026-11-24T00:00:00Z", aws.ToString(got[fixtureID(0)].CreatedAt), "first seen carried over: created at the first run")
	assert.Equal(t, "2026-11-24T00:00:00Z", aws.ToString(got[fixtureID(0)].FirstObservedAt), "first seen carried over")
	assert.Equal(t, "2026-11-25T00:00:00Z", aws.ToString(got[fixtureID(0)].LastObservedAt), "last observed this run")
	assert.Equal(t, 2, calls.imports(), "one import call a run")
}

func TestSecurityHubBatchesAndRetriesThrottling(t *testing.T) {
	sink, calls, hub := newMotoHub(t)
	r := manyFindings(250)
	calls.throttle = 1
	_, _, err := sink.Import(context.Background(), r, nil, "")
	require.NoError(t, err, "import 250 findings, the first call throttled")
	assert.Equal(t, 4, calls.imports(), "three batches of at most 100, one retried after throttling")
	assert.Len(t, hubFindings(t, hub.Client), 250, "every finding arrived")
}

// manyFindings is a report with n key-rotation findings in one account.
func manyFindings(n int) *report.Report {
	r := empty()
	for i := range n {
		user := fmt.Sprintf("user%03d", i)
		r.Findings = append(r.Findings, rules.Finding{Rule: "key-rotation", Severity: rules.Medium, AccountID: "111111111111",
			Principal: user, PrincipalARN: "arn:aws:iam::111111111111:user/" + user, AccessKeyID: fmt.Sprintf("AKIAAAAAAAAAAAAA%04d", i), KeySlot: 1,
			Fingerprint: fmt.Sprintf("%016x", i), Message: "old", Recommendation: "Rotate the key.", CIS: rules.CISRefs{rules.CISv6: "2.13"}})
	}
	return r
}

// failingHub fails some findings of every import, as Security Hub does
// when it is not enabled or a finding is malformed.
type failingHub struct{ imports, updates int }

func (f *failingHub) BatchImportFindings(_ context.Context, in *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	f.imports++
	return &securityhub.BatchImportFindingsOutput{FailedCount: aws.Int32(2), SuccessCount: aws.Int32(int32(len(in.Findings) - 2)),
		FailedFindings: []types.ImportFindingsError{
			{Id: in.Findings[0].Id, ErrorCode: aws.String("InvalidAccess"), ErrorMessage: aws.String("Account 123456789012 is not subscribed to AWS Security Hub")},
			{Id: in.Findings[1].Id, ErrorCode: aws.String("InvalidAccess"), ErrorMessage: aws.String("Account 123456789012 is not subscribed to AWS Security Hub")},
		}}, nil
}

func (f *failingHub) BatchUpdateFindings(context.Context, *securityhub.BatchUpdateFindingsInput, ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	f.updates++
	return &securityhub.BatchUpdateFindingsOutput{}, nil
}

func TestSecurityHubReportsFailedFindings(t *testing.T) {
	hub := &failingHub{}
	sink := &deliver.SecurityHub{Client: hub, Partition: "aws", Region: "eu-west-1", Account: "123456789012"}
	_, _, err := sink.Import(context.Background(), manyFindings(150), nil, "")
	require.Error(t, err, "failed findings are an error")
	assert.Equal(t, "security Hub rejected 4 of 150 findings (arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default): "+
		"InvalidAccess Account 123456789012 is not subscribed to AWS Security Hub: check that Security Hub is enabled in eu-west-1 and the role may call BatchImportFindings",
		err.Error(), "how many failed and why, once")
	assert.Equal(t, 2, hub.imports, "every batch was still sent")
	assert.Zero(t, hub.updates, "no workflow change after a failed import")
}

func TestSecurityHubActions(t *testing.T) {
	assert.Equal(t, []string{"securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings"}, deliver.SecurityHubActions, "the actions the role needs")
}

// recordingHub keeps what the sink sent.
type recordingHub struct {
	imported []types.AwsSecurityFinding
	updates  map[types.WorkflowStatus][]string
}

func (h *recordingHub) BatchImportFindings(_ context.Context, in *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	h.imported = append(h.imported, in.Findings...)
	return &securityhub.BatchImportFindingsOutput{FailedCount: aws.Int32(0), SuccessCount: aws.Int32(int32(len(in.Findings)))}, nil
}

func (h *recordingHub) BatchUpdateFindings(_ context.Context, in *securityhub.BatchUpdateFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	if h.updates == nil {
		h.updates = map[types.WorkflowStatus][]string{}
	}
	for _, id := range in.FindingIdentifiers {
		h.updates[in.Workflow.Status] = append(h.updates[in.Workflow.Status], aws.ToString(id.Id))
	}
	return &securityhub.BatchUpdateFindingsOutput{}, nil
}

func TestSecurityHubLiftedSuppressionIsNewAgain(t *testing.T) {
	prev, cur := reporttest.WithActions(fixture()), reporttest.WithActions(fixture())
	cur.Findings[2].Suppressed = nil // the suppression expired
	hub := &recordingHub{}
	sink := &deliver.SecurityHub{Client: hub, Partition: "aws", Region: "us-east-1", Account: "123456789012"}
	_, _, err := sink.Import(context.Background(), cur, deliver.ImportedFrom(prev), "")
	require.NoError(t, err, "import")
	assert.Equal(t, map[types.WorkflowStatus][]string{types.WorkflowStatusNew: {fixtureID(2)}}, hub.updates,
		"only the finding whose suppression was lifted changes workflow")
}

func TestSecurityHubArchivesOnlyWhatARunCouldSee(t *testing.T) {
	prev := reporttest.WithActions(fixture())
	for name, c := range map[string]struct {
		status   inventory.Status
		archived int
	}{
		"account audited ok": {inventory.StatusOK, 1},
		"account in error":   {inventory.StatusError, 0},
		"account skipped":    {inventory.StatusSkipped, 0},
	} {
		cur := reporttest.WithActions(fixture())
		cur.Findings = cur.Findings[:2] // the suppressed finding is gone
		cur.Accounts[0].Status = c.status
		hub := &recordingHub{}
		sink := &deliver.SecurityHub{Client: hub, Partition: "aws", Region: "us-east-1", Account: "123456789012"}
		_, _, err := sink.Import(context.Background(), cur, deliver.ImportedFrom(prev), "")
		require.NoError(t, err, "case %s", name)
		archived := 0
		for _, f := range hub.imported {
			if f.RecordState == types.RecordStateArchived {
				archived++
				assert.Equal(t, fixtureID(2), aws.ToString(f.Id), "case %s: the gone finding, suppressed or not", name)
			}
		}
		assert.Equal(t, c.archived, archived, "case %s: archived findings", name)
	}
}
