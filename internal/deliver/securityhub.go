package deliver

import (
	"context"
	"fmt"
	"github.com/keyaudit/keyaudit/report"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// SecurityHubActions are the IAM actions the Security Hub sink calls, for
// the function's role (template.yaml) and its test.
var SecurityHubActions = []string{"securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings"}

// securityHubAPI is the part of Security Hub the sink uses; *securityhub.Client
// satisfies it. Throttling is retried by the client's retryer.
type securityHubAPI interface {
	BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
	BatchUpdateFindings(ctx context.Context, in *securityhub.BatchUpdateFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error)
}

// securityHubBatch is the most findings one BatchImportFindings or
// BatchUpdateFindings call takes.
const securityHubBatch = 100

// SecurityHub imports findings in ASFF into the Security Hub of the account
// and region where findings are aggregated (the management or delegated
// administrator account), under that account's default product.
//
// Security Hub accepts findings through a default product only when
// AwsAccountId is the importing account, so every finding carries the
// aggregating account there; the audited account is in the resources'
// ARNs, the key's details and ProductFields["keyaudit/account_id"].
type SecurityHub struct {
	Client    securityHubAPI
	Partition string // e.g. "aws"
	Region    string // the client's region
	Account   string // the account the client acts in
}

// ProductARN is the aggregating account's default product.
func (s *SecurityHub) ProductARN() string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", s.Partition, s.Region, s.Account, s.Account)
}

// Import sends the run's findings as ACTIVE, and archives (RESOLVED) the
// previous run's findings that are gone from an account audited ok in both
// runs. reportURL, when set, is the link each finding's remediation gives
// to the full report with the plan. prev may be nil.
//
// BatchImportFindings ignores Workflow on a finding that already exists,
// so the workflow changes (suppressed, resolved, suppression lifted) are
// made with BatchUpdateFindings after the import.
func (s *SecurityHub) Import(ctx context.Context, cur, prev *report.Report, reportURL string) error {
	actionOf := report.ActionIndex(cur.Actions)
	var findings []types.AwsSecurityFinding
	workflow := map[types.WorkflowStatus][]string{}
	wasSuppressed := map[string]bool{}
	if prev != nil {
		for _, f := range prev.Findings {
			wasSuppressed[f.Fingerprint] = f.Suppressed != nil
		}
	}
	for i := range cur.Findings {
		f := &cur.Findings[i]
		a := actionOf(f)
		asff := s.finding(cur, f, &a, reportURL)
		findings = append(findings, asff)
		switch {
		case f.Suppressed != nil:
			workflow[types.WorkflowStatusSuppressed] = append(workflow[types.WorkflowStatusSuppressed], *asff.Id)
		case wasSuppressed[f.Fingerprint]:
			workflow[types.WorkflowStatusNew] = append(workflow[types.WorkflowStatusNew], *asff.Id)
		}
	}
	for _, f := range resolvedSince(prev, cur) {
		asff := s.finding(cur, &f, &rules.Action{}, reportURL)
		asff.RecordState = types.RecordStateArchived
		asff.Workflow = &types.Workflow{Status: types.WorkflowStatusResolved}
		asff.Compliance.Status = types.ComplianceStatusPassed
		asff.Description = aws.String(clip("Resolved: "+f.Message, 1024))
		findings = append(findings, asff)
		workflow[types.WorkflowStatusResolved] = append(workflow[types.WorkflowStatusResolved], *asff.Id)
	}
	if err := s.importFindings(ctx, findings); err != nil {
		return err
	}
	for _, status := range []types.WorkflowStatus{types.WorkflowStatusSuppressed, types.WorkflowStatusResolved, types.WorkflowStatusNew} {
		if err := s.setWorkflow(ctx, status, workflow[status]); err != nil {
			return err
		}
	}
	return nil
}

func (s *SecurityHub) importFindings(ctx context.Context, findings []types.AwsSecurityFinding) error {
	failed, total := 0, len(findings)
	var reasons []string
	for len(findings) > 0 {
		n := min(len(findings), securityHubBatch)
		out, err := s.Client.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: findings[:n]})
		if err != nil {
			return fmt.Errorf("import findings into Security Hub (%s): %w", s.ProductARN(), err)
		}
		findings = findings[n:]
		failed += int(aws.ToInt32(out.FailedCount))
		for _, e := range out.FailedFindings {
			reasons = appendReason(reasons, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
		}
	}
	if failed > 0 {
		return fmt.Errorf("security Hub rejected %d of %d findings (%s): %s: check that Security Hub is enabled in %s and the role may call BatchImportFindings",
			failed, total, s.ProductARN(), strings.Join(reasons, "; "), s.Region)
	}
	return nil
}

func (s *SecurityHub) setWorkflow(ctx context.Context, status types.WorkflowStatus, ids []string) error {
	failed := 0
	var reasons []string
	for len(ids) > 0 {
		n := min(len(ids), securityHubBatch)
		in := &securityhub.BatchUpdateFindingsInput{Workflow: &types.WorkflowUpdate{Status: status}}
		for _, id := range ids[:n] {
			in.FindingIdentifiers = append(in.FindingIdentifiers, types.AwsSecurityFindingIdentifier{Id: aws.String(id), ProductArn: aws.String(s.ProductARN())})
		}
		ids = ids[n:]
		out, err := s.Client.BatchUpdateFindings(ctx, in)
		if err != nil {
			return fmt.Errorf("set the workflow status of findings to %s in Security Hub: %w", status, err)
		}
		failed += len(out.UnprocessedFindings)
		for _, u := range out.UnprocessedFindings {
			reasons = appendReason(reasons, aws.ToString(u.ErrorCode), aws.ToString(u.ErrorMessage))
		}
	}
	if failed > 0 {
		return fmt.Errorf("security Hub did not set the workflow status of %d findings to %s: %s", failed, status, strings.Join(reasons, "; "))
	}
	return nil
}

// appendReason keeps each distinct reason once: a batch fails for one cause.
func appendReason(reasons []string, code, msg string) []string {
	r := strings.TrimSpace(code + " " + msg)
	for _, have := range reasons {
		if have == r {
			return reasons
		}
	}
	return append(reasons, r)
}

// resolvedSince are the previous run's findings, suppressed or not, that
// this run no longer has, in accounts audited ok in both runs: an account
// that could not be audited has resolved nothing.
func resolvedSince(prev, cur *report.Report) []rules.Finding {
	if prev == nil {
		return nil
	}
	ok := func(r *report.Report) map[string]bool {
		m := map[string]bool{}
		for _, a := range r.Accounts {
			m[a.ID] = a.Status == inventory.StatusOK
		}
		return m
	}
	okBefore, okNow := ok(prev), ok(cur)
	now := map[string]bool{}
	for _, f := range cur.Findings {
		now[f.Fingerprint] = true
	}
	var gone []rules.Finding
	for _, f := range prev.Findings {
		if !now[f.Fingerprint] && okBefore[f.AccountID] && okNow[f.AccountID] {
			gone = append(gone, f)
		}
	}
	return gone
}

// ASFF severity labels by keyaudit severity.
var asffSeverity = map[rules.Severity]types.SeverityLabel{
	rules.Low: types.SeverityLabelLow, rules.Medium: types.SeverityLabelMedium,
	rules.High: types.SeverityLabelHigh, rules.Critical: types.SeverityLabelCritical,
}

// finding is f in ASFF, ACTIVE, with workflow NEW or SUPPRESSED.
func (s *SecurityHub) finding(r *report.Report, f *rules.Finding, a *rules.Action, reportURL string) types.AwsSecurityFinding {
	observed := r.AsOf.UTC().Format(time.RFC3339)
	updated := r.GeneratedAt
	if updated.IsZero() {
		updated = r.AsOf
	}
	workflow := types.WorkflowStatusNew
	if f.Suppressed != nil {
		workflow = types.WorkflowStatusSuppressed
	}
	severity := &types.Severity{Label: asffSeverity[f.Severity], Original: aws.String(string(f.Severity))}
	var requirements []string
	for _, v := range rules.CISVersions {
		if id := f.CIS.In(v); id != "" {
			requirements = append(requirements, "CIS AWS Foundations Benchmark "+string(v)+"/"+id)
		}
	}
	// The plan goes in the description, after the message, as far as
	// ASFF's 1,024 characters allow; the link to the report has all of it.
	description := f.Message
	if f.Suppressed != nil {
		description += "\n" + report.SuppressionText(f.Suppressed)
	}
	if plan := report.PlanText(a); plan != "" {
		description += "\n\n" + plan
	}
	rec := &types.Recommendation{Text: aws.String(clip(f.Recommendation, 512))}
	if reportURL != "" {
		rec.Url = aws.String(reportURL)
	}
	fields := map[string]string{
		"keyaudit/rule":        f.Rule,
		"keyaudit/account_id":  f.AccountID,
		"keyaudit/fingerprint": f.Fingerprint,
	}
	if r.RunID != "" {
		fields["keyaudit/run_id"] = r.RunID
	}
	return types.AwsSecurityFinding{
		SchemaVersion:   aws.String("2018-10-08"),
		Id:              aws.String(report.FindingUID(f)),
		ProductArn:      aws.String(s.ProductARN()),
		ProductName:     aws.String("keyaudit"),
		CompanyName:     aws.String("keyaudit"),
		GeneratorId:     aws.String(f.Rule),
		AwsAccountId:    aws.String(s.Account),
		Region:          aws.String(s.Region),
		Types:           report.FindingTypes(f),
		CreatedAt:       aws.String(observed),
		FirstObservedAt: aws.String(observed),
		LastObservedAt:  aws.String(observed),
		UpdatedAt:       aws.String(updated.UTC().Format(time.RFC3339)),
		Severity:        severity,
		// Security Hub takes a provider's later changes of severity and
		// types from FindingProviderFields (a root key made inactive is
		// no longer critical).
		FindingProviderFields: &types.FindingProviderFields{Severity: &types.FindingProviderSeverity{
			Label: severity.Label, Original: severity.Original}, Types: report.FindingTypes(f)},
		Title:         aws.String(clip(report.RuleTitle(f.Rule), 256)),
		Description:   aws.String(clip(description, 1024)),
		Remediation:   &types.Remediation{Recommendation: rec},
		Compliance:    &types.Compliance{Status: types.ComplianceStatusFailed, RelatedRequirements: requirements},
		Resources:     s.resources(f),
		ProductFields: fields,
		RecordState:   types.RecordStateActive,
		Workflow:      &types.Workflow{Status: workflow},
	}
}

// resources are the key (when its ID is known) and its user.
func (s *SecurityHub) resources(f *rules.Finding) []types.Resource {
	partition := types.Partition(report.PartitionOf(f.PrincipalARN))
	user := types.Resource{Type: aws.String("AwsIamUser"), Id: aws.String(f.PrincipalARN), Partition: partition, Region: aws.String(s.Region)}
	if f.AccessKeyID == "" {
		return []types.Resource{user}
	}
	details := &types.AwsIamAccessKeyDetails{
		AccessKeyId:   aws.String(f.AccessKeyID),
		AccountId:     aws.String(f.AccountID),
		PrincipalName: aws.String(f.Principal),
		PrincipalType: aws.String(principalType(f.Principal)),
	}
	if f.Details.KeyActive != nil {
		details.Status = types.AwsIamAccessKeyStatus(report.KeyStatus(*f.Details.KeyActive))
	}
	if !f.Details.KeyCreated.IsZero() {
		details.CreatedAt = aws.String(f.Details.KeyCreated.UTC().Format(time.RFC3339))
	}
	key := types.Resource{Type: aws.String("AwsIamAccessKey"), Id: aws.String(f.AccessKeyID), Partition: partition, Region: aws.String(s.Region),
		Details: &types.ResourceDetails{AwsIamAccessKey: details}}
	return []types.Resource{key, user}
}

func principalType(name string) string {
	if name == inventory.RootName {
		return "Root"
	}
	return "IAMUser"
}

// clip shortens s to at most n characters (not bytes), marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
