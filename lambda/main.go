// Command bootstrap is keyaudit's Lambda entrypoint: an EventBridge
// schedule triggers one organization audit, whose reports go to S3 before
// Slack hears of them. It is a thin shell over internal/pipeline: the
// environment and the event in, pipeline options out, the report delivered.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/memlimit"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	// Lambda stops a function that outgrows its memory; a soft limit
	// below it makes the garbage collector work harder first.
	if limit := memlimit.Soft(os.Getenv, os.ReadFile); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	s, err := settingsFromEnv(os.Getenv)
	if err != nil {
		// A misconfigured function fails every invocation with the reason.
		log.Error("invalid configuration", "error", err)
		lambda.Start(func(context.Context) error { return err })
		return
	}
	h := &handler{settings: s, log: log, metrics: os.Stdout}
	lambda.Start(h.handle)
}

// settings are read once, at cold start, from the function's environment.
type settings struct {
	Bucket, Prefix string
	// Run is the run's settings the environment gives: the accounts, the
	// role, the concurrency; each invocation adds its run and its event's.
	Run pipeline.Settings
	// ConfigSource is where thresholds and suppressions live:
	// s3://bucket/key or ssm:/parameter/name; empty for the defaults.
	ConfigSource string
	// SlackSecretARN names the Secrets Manager secret holding the Slack
	// webhook URL or bot token; the secret itself never sits in the environment.
	SlackSecretARN string
	SlackChannel   string
	SlackOnlyNew   bool
	SlackAPIURL    string // for tests: a local Slack server
	// SecurityHub imports the findings into the Security Hub of the
	// function's account, in SecurityHubRegion (default: the function's).
	SecurityHub       bool
	SecurityHubRegion string
	// Reserve is kept back from the invocation deadline to write reports.
	Reserve time.Duration
	// Policies are the opt-in remediation (lambda/remediate.go).
	Policies policies
	// ExternalIDSecretARN names the Secrets Manager secret holding the
	// member role's external ID (template.yaml's ExternalIdSecret); hand-made
	// setups may give the ID itself in KEYAUDIT_EXTERNAL_ID instead.
	ExternalIDSecretARN string
	// KMSKeyARN, when set, is the KMS key every object the function writes
	// is encrypted with, as the bucket policy requires (docs/deploy.md).
	KMSKeyARN string
	// Function is the function's name: the run metrics' dimension.
	Function string
}

// lambdaNames name the run's settings as the function's environment.
var lambdaNames = pipeline.Names{Accounts: "KEYAUDIT_ACCOUNTS", Exclude: "KEYAUDIT_EXCLUDE_ACCOUNTS", Concurrency: "KEYAUDIT_CONCURRENCY",
	ExternalID: "KEYAUDIT_EXTERNAL_ID"}

// settingsFromEnv translates the environment into the function's settings,
// and validates the run's part of them as every invocation will.
func settingsFromEnv(getenv func(string) string) (settings, error) {
	s := settings{
		Bucket:              getenv("KEYAUDIT_BUCKET"),
		Prefix:              strings.Trim(getenv("KEYAUDIT_PREFIX"), "/"),
		ConfigSource:        getenv("KEYAUDIT_CONFIG"),
		SlackSecretARN:      getenv("KEYAUDIT_SLACK_SECRET_ARN"),
		SlackChannel:        getenv("KEYAUDIT_SLACK_CHANNEL"),
		SlackOnlyNew:        getenv("KEYAUDIT_SLACK_ONLY_CHANGES") == "true",
		SlackAPIURL:         getenv("KEYAUDIT_SLACK_API_URL"),
		SecurityHub:         getenv("KEYAUDIT_SECURITY_HUB") == "true",
		SecurityHubRegion:   getenv("KEYAUDIT_SECURITY_HUB_REGION"),
		Reserve:             30 * time.Second,
		ExternalIDSecretARN: getenv("KEYAUDIT_EXTERNAL_ID_SECRET_ARN"),
		KMSKeyARN:           getenv("KEYAUDIT_KMS_KEY_ARN"),
		Function:            getenv("AWS_LAMBDA_FUNCTION_NAME"),
		Run: pipeline.Settings{
			Names:     lambdaNames,
			Org:       getenv("KEYAUDIT_ACCOUNTS") == "",
			Accounts:  []string{getenv("KEYAUDIT_ACCOUNTS")},
			Exclude:   []string{getenv("KEYAUDIT_EXCLUDE_ACCOUNTS")},
			AllKeyIDs: getenv("KEYAUDIT_ALL_KEY_IDS") == "true",
			Role: audit.RoleSpec{
				Name:       getenv("KEYAUDIT_ROLE_NAME"),
				Path:       getenv("KEYAUDIT_ROLE_PATH"),
				ExternalID: getenv("KEYAUDIT_EXTERNAL_ID"),
				// The function's own account is audited through the member
				// role too, so the function role needs no IAM read access.
				InCaller: true,
			},
		},
	}
	if s.Bucket == "" {
		return s, errors.New("KEYAUDIT_BUCKET is not set: name the S3 bucket for reports")
	}
	if s.ExternalIDSecretARN != "" {
		if s.Run.Role.ExternalID != "" {
			return s, errors.New("KEYAUDIT_EXTERNAL_ID and KEYAUDIT_EXTERNAL_ID_SECRET_ARN are both set: keep one, the secret's ARN (the external ID then stays out of the environment)")
		}
		s.Run.Names.ExternalID = "the ExternalId parameter (the secret KEYAUDIT_EXTERNAL_ID_SECRET_ARN names holds it)"
	}
	if v := getenv("KEYAUDIT_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return s, fmt.Errorf("KEYAUDIT_CONCURRENCY must be a whole number from 1 to %d, or 0 (the default) to derive it from the accounts and the time left, got %q", pipeline.MaxConcurrency, v)
		}
		s.Run.Concurrency = n
	}
	if v := getenv("KEYAUDIT_RESERVE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s, fmt.Errorf("KEYAUDIT_RESERVE_SECONDS must be a whole number of seconds, got %q", v)
		}
		s.Reserve = time.Duration(n) * time.Second
	}
	var err error
	if s.Policies, err = policiesFromEnv(getenv); err != nil {
		return s, err
	}
	check := s.Run
	return s, check.Validate()
}

// input is what a schedule may pass: EventBridge's Scheduled Event
// (Schedule), nothing or a custom JSON object (ScheduleV2), optionally
// with the accounts to audit and the clock to judge by (as_of, RFC 3339:
// re-run a night as it was judged). The Distributed Map's state machine
// passes Step: to discover with its execution's input (which takes the
// same fields), then to each batch step the run and its targets, then to
// merge the run and how the Map ended.
type input struct {
	Accounts []string    `json:"accounts"`
	AsOf     *time.Time  `json:"as_of"`
	Step     string      `json:"step"`
	Input    *input      `json:"input"`
	Run      *run        `json:"run"`
	Targets  []item      `json:"targets"`
	Map      *mapOutcome `json:"map"`
	// Leaked are key IDs found where they must not be, for the
	// DeactivateLeakedKeys policy (lambda/remediate.go).
	Leaked []string `json:"leaked"`
}

// Summary is what a run's last invocation returns.
type Summary struct {
	RunID      string         `json:"run_id"`
	Accounts   map[string]int `json:"accounts"`
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"by_severity"`
	// Incomplete says why the report is not the whole run's: the
	// organization's listing failed part way, or (distributed mode) the
	// Map failed or stored results could not be used.
	Incomplete string `json:"incomplete,omitempty"`
	Report     string `json:"report"`
	Slack      string `json:"slack"`
	// Remediation is what the opt-in policies changed, and how to undo it.
	Remediation *Remediation `json:"remediation,omitempty"`
	// SecurityHub is "imported", "partly imported: …" (out of time, the
	// rest carried to the next run), "failed" or "not configured".
	SecurityHub string `json:"security_hub"`
	// Warnings are what the delivery did not finish or could not read,
	// short of failing: findings carried to the next run, a baseline read
	// afresh.
	Warnings []string `json:"warnings,omitempty"`
}

type handler struct {
	settings settings
	log      *slog.Logger
	// metrics receives the run metrics' line: standard output, which
	// Lambda's log pipeline reads.
	metrics io.Writer
	// externalID is the secret's external ID, read at the first invocation
	// and kept for the instance's life. Lambda gives an instance one
	// invocation at a time, so nothing else touches it meanwhile.
	externalID string
	// members are the accounts the event function checked (lambda/event.go).
	members members
}

func (h *handler) handle(ctx context.Context, raw json.RawMessage) (any, error) {
	if batch, ok := sqsBatch(raw); ok {
		return h.events(ctx, batch)
	}
	var in input
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("read the event: %w (expected a scheduled event, {\"accounts\": [...]} or a step of the Distributed Map)", err)
		}
	}
	switch in.Step {
	case "":
		return h.single(ctx, in)
	case stepDiscover:
		return h.discover(ctx, in)
	case stepBatch:
		return h.batch(ctx, in)
	case stepMerge:
		return h.merge(ctx, in)
	}
	return nil, fmt.Errorf("read the event: unknown step %q (expected %s, %s or %s)", in.Step, stepDiscover, stepBatch, stepMerge)
}

// single audits every account in this one invocation.
func (h *handler) single(ctx context.Context, in input) (Summary, error) {
	inv, err := h.begin(ctx, newRun(ctx, in.AsOf), "event accounts", in.Accounts)
	if err != nil {
		return Summary{}, err
	}
	conn, err := inv.dial(ctx)
	if err != nil {
		return Summary{}, err
	}
	auditCtx, cancel := h.auditContext(ctx)
	defer cancel()
	r := pipeline.Live(auditCtx, inv.options(conn), conn.Targets, conn.IAM)
	inv.leaked = in.Leaked
	return h.finish(ctx, inv, conn, r)
}

// run is one audit run: its ID names the reports and the sessions, AsOf
// is the clock the rules judge by, Started the report's generated_at. The
// steps of the Distributed Map share one run, so they judge at one instant.
type run struct {
	ID      string    `json:"run_id"`
	AsOf    time.Time `json:"as_of"`
	Started time.Time `json:"started"`
}

// newRun starts a run now, judged at asOf when given.
func newRun(ctx context.Context, asOf *time.Time) run {
	started := time.Now().UTC()
	rn := run{ID: pipeline.NewID(started), AsOf: started, Started: started}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		rn.ID += "-" + lc.AwsRequestID[:min(8, len(lc.AwsRequestID))]
	}
	if asOf != nil {
		rn.AsOf = asOf.UTC()
	}
	return rn
}

// invocation is what every step needs: the run, its validated settings,
// AWS, and a logger naming the run.
type invocation struct {
	run      run
	settings pipeline.Settings
	cfg      aws.Config
	log      *slog.Logger
	s3       *s3.Client
	leaked   []string // the event's, for the remediation policies
}

// begin loads AWS and the rules' config for a step of run rn, and
// validates the run's settings: the environment's, with the accounts the
// event names (where, in errors), when it names some, instead of the
// configured ones or the organization's.
func (h *handler) begin(ctx context.Context, rn run, where string, accounts []string) (*invocation, error) {
	s := h.settings.Run
	s.RunID, s.Started, s.Now = rn.ID, rn.Started, rn.AsOf
	if len(accounts) > 0 {
		s.Names.Accounts = where
		s.Org, s.Accounts = false, accounts
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	log := h.log.With("run_id", rn.ID)
	// Retries that take a while are logged as warnings.
	cfg, err := pipeline.LoadAWS(ctx, log, nil)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if s.Role.ExternalID, err = h.readExternalID(ctx, cfg); err != nil {
		return nil, err
	}
	if s.Config, err = pipeline.LoadConfig(ctx, cfg, h.settings.ConfigSource); err != nil {
		return nil, err
	}
	return &invocation{run: rn, settings: s, cfg: cfg, log: log, s3: s3.NewFromConfig(cfg)}, nil
}

// readExternalID is the member role's external ID: KEYAUDIT_EXTERNAL_ID's,
// or the secret's, read once per instance. A secret that cannot be read
// fails the invocation: every member role would refuse the run.
func (h *handler) readExternalID(ctx context.Context, cfg aws.Config) (string, error) {
	if h.settings.ExternalIDSecretARN == "" || h.externalID != "" {
		return cmp.Or(h.externalID, h.settings.Run.Role.ExternalID), nil
	}
	id, err := readExternalID(ctx, secretsmanager.NewFromConfig(cfg), h.settings.ExternalIDSecretARN)
	if err != nil {
		return "", err
	}
	h.externalID = id
	return id, nil
}

// dial resolves the accounts to audit.
func (inv *invocation) dial(ctx context.Context) (*pipeline.Conn, error) {
	conn, err := pipeline.Dial(ctx, inv.cfg, inv.settings.Selection())
	if errors.Is(err, pipeline.ErrNoTargets) {
		return nil, fmt.Errorf("%w: check KEYAUDIT_EXCLUDE_ACCOUNTS", err)
	}
	return conn, err
}

// connect reaches the given targets, as the run's settings say, without
// listing or excluding any.
func (inv *invocation) connect(ctx context.Context, targets []audit.Target) (*pipeline.Conn, error) {
	sel := inv.settings.Selection()
	sel.Org, sel.Accounts, sel.Exclude = false, targets, nil
	return pipeline.Dial(ctx, inv.cfg, sel)
}

// options are the pipeline options of every step of the run.
func (inv *invocation) options(conn *pipeline.Conn) pipeline.Options {
	return pipeline.Options{Settings: inv.settings, Deps: conn.Deps(&inv.settings, inv.log)}
}

// auditContext stops auditing early enough to write the results before
// Lambda's deadline.
func (h *handler) auditContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline.Add(-h.settings.Reserve))
	}
	return context.WithCancel(ctx)
}

// finish delivers the run's report and returns the run's summary. The
// reports are written before anything is sent, so a failing import or
// post never loses one; the run still fails then, so the error alarm
// fires. When S3 fails, the summary and the findings go to the log.
func (h *handler) finish(ctx context.Context, inv *invocation, conn *pipeline.Conn, r *report.Report) (Summary, error) {
	sum := Summary{RunID: inv.run.ID, Accounts: r.Summary.Accounts, Findings: r.Summary.Findings, BySeverity: r.Summary.BySeverity, Incomplete: r.Incomplete}
	// The metrics first: a run whose delivery fails still counts.
	if _, err := newRunMetrics(h.settings.Function, r, time.Now()).WriteTo(h.metrics); err != nil {
		inv.log.Warn("run metrics not written: the alarms on accounts not audited will not see this run", "error", err)
	}
	sink := &deliver.S3Sink{Client: inv.s3, Bucket: h.settings.Bucket, Prefix: h.settings.Prefix, KMSKeyID: h.settings.KMSKeyARN}
	// The invocation's deadline bounds the delivery, not deliver.Budget:
	// the audit left it at least Reserve, and a large organization's
	// reports take longer than the CLI's budget (docs/scale.md).
	d := deliver.Delivery{Writer: sink, History: sink, Reserve: min(logReserve, h.settings.Reserve/2)}
	if h.settings.SecurityHub {
		d.SecurityHub = conn.SecurityHub(h.settings.SecurityHubRegion)
	}
	var slackErr error
	if h.settings.SlackSecretARN != "" {
		d.Slack, slackErr = deliver.SlackFromSecret(ctx, secretsmanager.NewFromConfig(inv.cfg), h.settings.SlackSecretARN, h.settings.SlackChannel, "KEYAUDIT_SLACK_CHANNEL")
		if d.Slack != nil {
			d.Slack.OnlyChanges, d.Slack.APIURL = h.settings.SlackOnlyNew, h.settings.SlackAPIURL
		}
	}
	// The opt-in remediation acts before Slack hears, so that the message
	// names the journal and the undo command.
	acted, actErr := h.remediate(ctx, inv, conn, r, inv.leaked)
	sum.Remediation = acted
	if d.Slack != nil {
		d.Slack.Acted = acted.slackLine()
	}
	out := d.Deliver(ctx, r)
	sum.Report = out.Location
	if out.Written != nil {
		if err := logReport(inv.log, r, out.Written); err != nil {
			return sum, fmt.Errorf("reports not written to S3, nor to the log: %w", errors.Join(out.Written, err))
		}
		return sum, fmt.Errorf("reports not written to S3 (the findings are in the log): %w", out.Written)
	}
	imported := "imported"
	if n := out.Import.Carried; n > 0 {
		imported = fmt.Sprintf("partly imported: %d of %d sent, the rest next run", out.Import.Imported, out.Import.Imported+n)
	}
	sum.SecurityHub = outcome(d.SecurityHub != nil, out.Imported, imported)
	sum.Warnings = out.Warnings
	for _, w := range out.Warnings {
		inv.log.Warn(w)
	}
	if out.Changes.Refused != nil {
		inv.log.Warn("previous announced run not compared: everything open is posted", "error", out.Changes.Refused)
	}
	sent := "nothing new"
	if out.Sent {
		sent = fmt.Sprintf("sent: %d new, %d resolved, %d suppressed", len(out.Changes.Added), len(out.Changes.Resolved), len(out.Changes.Suppressed))
	}
	sum.Slack = outcome(h.settings.SlackSecretARN != "", errors.Join(slackErr, out.Announced), sent)
	inv.log.Info("run complete", "accounts", sum.Accounts, "findings", sum.Findings, "report", sum.Report, "slack", sum.Slack, "security_hub", sum.SecurityHub)
	return sum, errors.Join(actErr, out.Imported, slackErr, out.Announced)
}

// outcome is a step's word in the summary: "not configured", "failed" or done.
func outcome(configured bool, err error, done string) string {
	switch {
	case !configured:
		return "not configured"
	case err != nil:
		return "failed"
	}
	return done
}

// logReserve is kept back from the deadline (at most half of the
// reserve for writing) to log the findings when S3 fails.
const logReserve = 5 * time.Second
