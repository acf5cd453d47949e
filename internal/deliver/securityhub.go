package deliver

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
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

// Imported is the Security Hub baseline: per audited account, the findings
// Security Hub holds from keyaudit, as last imported. It is written only
// after an import (as announced.json is after a post), so a failed or
// partial import is retried, and a run that audits some accounts leaves
// the others' records alone. S3Sink keeps it as securityhub.json.
type Imported struct {
	Accounts map[string]map[string]ImportedFinding `json:"accounts"` // account ID → fingerprint →
}

// ImportedFinding is one finding as Security Hub last received it.
type ImportedFinding struct {
	Finding rules.Finding `json:"finding"`
	// Digest covers what a person acts on (severity, suppression, key
	// status, what to do): a change of it is imported the next run; the
	// day counts in the message are refreshed with the finding.
	Digest    string    `json:"digest"`
	FirstSeen time.Time `json:"first_seen"`
	Imported  time.Time `json:"imported"`
}

// refreshAfter is how long an unchanged finding goes without an import:
// Security Hub deletes a finding not updated for 90 days, and a month of
// failed nights still leaves it in place.
const refreshAfter = 60 * 24 * time.Hour

// ImportResult counts what an import sent, and what it left for the next
// run because its time ran out.
type ImportResult struct {
	Imported, Unchanged, Carried int
}

// hubItem is one finding to import and what the baseline records once it is.
type hubItem struct {
	// asff builds the finding's document when its batch is sent: built
	// all at once, a large run's documents outgrow a Lambda's memory.
	asff                 func() types.AwsSecurityFinding
	account, fingerprint string
	record               *ImportedFinding // nil: resolved, dropped from the baseline
	workflow             types.WorkflowStatus
}

// Import brings Security Hub up to date with cur against base, the
// baseline of what it holds (nil: nothing yet): new and changed findings
// are imported ACTIVE, unchanged ones only when due for a refresh, and a
// finding of base gone from an account audited ok in cur is archived
// (RESOLVED). reportURL, when set, is the link each finding's remediation
// gives to the full report. It sends batches while ctx has time and
// carries the rest to the next run; it returns the baseline of what
// Security Hub now holds, which includes every batch that went through
// even when err is set.
//
// BatchImportFindings ignores Workflow on a finding that already exists,
// so the workflow changes (suppressed, resolved, suppression lifted) are
// made with BatchUpdateFindings after the import.
func (s *SecurityHub) Import(ctx context.Context, cur *report.Report, base *Imported, reportURL string) (*Imported, ImportResult, error) {
	next := base.clone()
	items, unchanged := s.plan(cur, base, reportURL)
	res := ImportResult{Unchanged: unchanged}
	var err error
	var rejected []string // why, once each
	failed := 0
	for rest := items; len(rest) > 0 && ctx.Err() == nil && err == nil; {
		n := min(len(rest), securityHubBatch)
		b := s.importBatch(ctx, rest[:n])
		rest, err = rest[n:], b.err
		for _, it := range b.done {
			next.set(it)
		}
		res.Imported += len(b.done)
		failed += b.rejected
		for _, r := range b.reasons {
			rejected = appendReason(rejected, r, "")
		}
	}
	res.Carried = len(items) - res.Imported - failed
	if ctx.Err() != nil {
		// Out of time, not failed: what is left is imported next run.
		err = nil
	}
	if failed > 0 {
		err = errors.Join(err, fmt.Errorf("security Hub rejected %d of %d findings (%s): %s: check that Security Hub is enabled in %s and the role may call BatchImportFindings",
			failed, len(items), s.ProductARN(), strings.Join(rejected, "; "), s.Region))
	}
	return next, res, err
}

// plan lists what to send: new and changed findings first, then the
// resolved, then the unchanged due for a refresh; it counts the rest.
func (s *SecurityHub) plan(cur *report.Report, base *Imported, reportURL string) (items []hubItem, unchanged int) {
	now := cur.GeneratedAt
	if now.IsZero() {
		now = cur.AsOf
	}
	actionOf := report.ActionIndex(cur.Actions)
	var changed, refresh []hubItem
	seen := map[string]bool{}
	for i := range cur.Findings {
		f := &cur.Findings[i]
		seen[f.Fingerprint] = true
		a := actionOf(f)
		was, ok := base.lookup(f.AccountID, f.Fingerprint)
		rec := &ImportedFinding{Finding: *f, Digest: digest(f, &a), FirstSeen: cur.AsOf, Imported: now}
		if ok && !was.FirstSeen.IsZero() {
			rec.FirstSeen = was.FirstSeen
		}
		if ok && was.Digest == rec.Digest && now.Sub(was.Imported) < refreshAfter {
			unchanged++
			continue
		}
		it := hubItem{asff: func() types.AwsSecurityFinding { return s.finding(cur, f, &a, reportURL, rec.FirstSeen) },
			account: f.AccountID, fingerprint: f.Fingerprint, record: rec}
		switch {
		case f.Suppressed != nil:
			it.workflow = types.WorkflowStatusSuppressed
		case ok && was.Finding.Suppressed != nil:
			it.workflow = types.WorkflowStatusNew
		}
		if ok && was.Digest == rec.Digest {
			refresh = append(refresh, it)
		} else {
			changed = append(changed, it)
		}
	}
	var resolved []hubItem
	for _, acct := range okAccounts(cur) {
		for _, fp := range slices.Sorted(maps.Keys(base.account(acct))) {
			if seen[fp] {
				continue
			}
			was := base.Accounts[acct][fp]
			asff := func() types.AwsSecurityFinding {
				asff := s.finding(cur, &was.Finding, &rules.Action{}, reportURL, was.FirstSeen)
				asff.RecordState = types.RecordStateArchived
				asff.Workflow = &types.Workflow{Status: types.WorkflowStatusResolved}
				asff.Compliance.Status = types.ComplianceStatusPassed
				asff.Description = aws.String(clip("Resolved: "+was.Finding.Message, 1024))
				asff.Remediation.Recommendation.Text = aws.String("Resolved: nothing to do.")
				return asff
			}
			resolved = append(resolved, hubItem{asff: asff, account: acct, fingerprint: fp, workflow: types.WorkflowStatusResolved})
		}
	}
	return slices.Concat(changed, resolved, refresh), unchanged
}

// okAccounts are the accounts cur audited ok: an account that could not
// be audited has resolved nothing.
func okAccounts(cur *report.Report) []string {
	var ok []string
	for _, a := range cur.Accounts {
		if a.Status == inventory.StatusOK {
			ok = append(ok, a.ID)
		}
	}
	return ok
}

// digest sums what a person acts on in a finding: when it changes, the
// finding is imported again.
func digest(f *rules.Finding, a *rules.Action) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s", f.Rule, f.Severity, f.AccountName, f.PrincipalARN, a.Summary, f.Recommendation)
	if f.Details.KeyActive != nil {
		fmt.Fprintf(h, "\x00active=%t", *f.Details.KeyActive)
	}
	if f.Suppressed != nil {
		fmt.Fprintf(h, "\x00%s", report.SuppressionText(f.Suppressed))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// batch is what one import did: the findings that went through the
// import and their workflow change, those rejected and why, and the error
// that stops the import.
type batch struct {
	done     []hubItem
	rejected int
	reasons  []string
	err      error
}

// importBatch imports items, then sets the workflow of those of them that
// need it.
func (s *SecurityHub) importBatch(ctx context.Context, items []hubItem) batch {
	in := &securityhub.BatchImportFindingsInput{}
	ids := make([]string, len(items))
	for i, it := range items {
		asff := it.asff()
		ids[i] = aws.ToString(asff.Id)
		in.Findings = append(in.Findings, asff)
	}
	out, err := s.Client.BatchImportFindings(ctx, in)
	if err != nil {
		return batch{err: fmt.Errorf("import findings into Security Hub (%s): %w", s.ProductARN(), err)}
	}
	var b batch
	notDone := map[string]bool{}
	for _, e := range out.FailedFindings {
		notDone[aws.ToString(e.Id)] = true
		b.reasons = appendReason(b.reasons, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
	}
	b.rejected = len(notDone)
	byStatus := map[types.WorkflowStatus][]string{}
	for i, it := range items {
		if it.workflow != "" && !notDone[ids[i]] {
			byStatus[it.workflow] = append(byStatus[it.workflow], ids[i])
		}
	}
	var errs []error
	for _, status := range []types.WorkflowStatus{types.WorkflowStatusSuppressed, types.WorkflowStatusResolved, types.WorkflowStatusNew} {
		if err := s.setWorkflow(ctx, status, byStatus[status]); err != nil {
			errs = append(errs, err)
			for _, id := range byStatus[status] {
				notDone[id] = true // imported, but sent again next run for its workflow
			}
		}
	}
	for i, it := range items {
		if !notDone[ids[i]] {
			b.done = append(b.done, it)
		}
	}
	b.err = errors.Join(errs...)
	return b
}

// clone copies b (nil: an empty baseline) for the next run's to be built on.
func (b *Imported) clone() *Imported {
	next := &Imported{Accounts: map[string]map[string]ImportedFinding{}}
	if b == nil {
		return next
	}
	for acct, fs := range b.Accounts {
		next.Accounts[acct] = maps.Clone(fs)
	}
	return next
}

func (b *Imported) account(id string) map[string]ImportedFinding {
	if b == nil {
		return nil
	}
	return b.Accounts[id]
}

func (b *Imported) lookup(account, fingerprint string) (ImportedFinding, bool) {
	f, ok := b.account(account)[fingerprint]
	return f, ok
}

// set records that it went through.
func (b *Imported) set(it hubItem) {
	if it.record == nil {
		delete(b.Accounts[it.account], it.fingerprint)
		if len(b.Accounts[it.account]) == 0 {
			delete(b.Accounts, it.account)
		}
		return
	}
	if b.Accounts[it.account] == nil {
		b.Accounts[it.account] = map[string]ImportedFinding{}
	}
	b.Accounts[it.account][it.fingerprint] = *it.record
}

// ImportedFrom is the baseline a report stands for when no baseline is
// kept (the CLI's --previous): its findings in the accounts it audited
// ok, as if imported long ago, so that each is imported again and what
// it found and this run does not is archived.
func ImportedFrom(r *report.Report) *Imported {
	if r == nil {
		return nil
	}
	b := &Imported{Accounts: map[string]map[string]ImportedFinding{}}
	ok := map[string]bool{}
	for _, id := range okAccounts(r) {
		ok[id] = true
	}
	for _, f := range r.Findings {
		if ok[f.AccountID] {
			b.set(hubItem{account: f.AccountID, fingerprint: f.Fingerprint, record: &ImportedFinding{Finding: f, FirstSeen: r.AsOf}})
		}
	}
	return b
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

// ASFF severity labels by keyaudit severity.
var asffSeverity = map[rules.Severity]types.SeverityLabel{
	rules.Low: types.SeverityLabelLow, rules.Medium: types.SeverityLabelMedium,
	rules.High: types.SeverityLabelHigh, rules.Critical: types.SeverityLabelCritical,
}

// finding is f in ASFF, ACTIVE, with workflow NEW or SUPPRESSED, first
// seen at firstSeen.
func (s *SecurityHub) finding(r *report.Report, f *rules.Finding, a *rules.Action, reportURL string, firstSeen time.Time) types.AwsSecurityFinding {
	observed := r.AsOf.UTC().Format(time.RFC3339)
	created := firstSeen.UTC().Format(time.RFC3339)
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
	// One voice per key: the key's action, as the description's plan says.
	rec := &types.Recommendation{Text: aws.String(clip(cmp.Or(a.Summary, f.Recommendation), 512))}
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
		CreatedAt:       aws.String(created),
		FirstObservedAt: aws.String(created),
		LastObservedAt:  aws.String(observed),
		UpdatedAt:       aws.String(updated.UTC().Format(time.RFC3339)),
		Severity:        severity,
		// Security Hub takes a provider's later changes of severity and
		// types from FindingProviderFields (a root key made inactive is
		// no longer critical).
		FindingProviderFields: &types.FindingProviderFields{Severity: &types.FindingProviderSeverity{
			Label: severity.Label, Original: severity.Original}, Types: report.FindingTypes(f)},
		Title:         aws.String(clip(title(f), 256)),
		Description:   aws.String(clip(description, 1024)),
		Remediation:   &types.Remediation{Recommendation: rec},
		Compliance:    &types.Compliance{Status: types.ComplianceStatusFailed, RelatedRequirements: requirements},
		Resources:     s.resources(f),
		ProductFields: fields,
		RecordState:   types.RecordStateActive,
		Workflow:      &types.Workflow{Status: workflow},
	}
}

// title names the rule and whose key, so that the findings list tells
// one key from another: "An active IAM user key is older than the limit:
// rotate it — alice AKIA… in prod (111111111111)".
func title(f *rules.Finding) string {
	key := f.AccessKeyID
	if key == "" && f.KeySlot > 0 {
		key = fmt.Sprintf("key %d", f.KeySlot)
	}
	return strings.Join(strings.Fields(fmt.Sprintf("%s — %s %s in %s", report.RuleTitle(f.Rule), f.Principal, key,
		report.AccountLabel(f.AccountID, f.AccountName))), " ")
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
