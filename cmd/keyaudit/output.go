package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// output holds the flags every audit command shares for delivering a report.
type output struct {
	format string
	out    string
	failOn string

	fail rules.Severity
	log  *slog.Logger // for the SDK's own logging of the S3 sink
	// say tells standard error what is being retried, and other news
	// worth a warning; note tells where the report went. Both are nil
	// with --quiet, and log through log with --log-format json.
	say, note func(string)
	// sink is where --out s3:// writes, checked before the audit.
	sink *deliver.S3Sink
}

func (o *output) register(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "format", "f", "", "output format: table, json, csv, html, markdown or ocsf (default: table on a terminal, json otherwise)")
	fs.StringVarP(&o.out, "out", "o", "", "write the report files into this directory (or s3://bucket/prefix) instead of standard output")
	fs.StringVar(&o.failOn, "fail-on", "", "exit 1 when a finding is at or above this severity: critical, high, medium or low (default: never)")
	inGroup(fs, groupOutput, "format", "out", "fail-on")
}

func (o *output) validate() error {
	if strings.HasPrefix(o.out, "s3://") {
		if _, _, err := deliver.ParseS3URL(o.out); err != nil {
			return usageErr(fmt.Errorf("--out: %w", err))
		}
	}
	if o.format != "" {
		if _, err := report.ParseFormat(o.format); err != nil {
			return usageErr(fmt.Errorf("--format: %w", err))
		}
	}
	if o.failOn != "" {
		sev, err := rules.ParseSeverity(o.failOn)
		if err != nil {
			return usageErr(fmt.Errorf("--fail-on: %w", err))
		}
		o.fail = sev
	}
	return nil
}

// checkDir makes sure a local --out directory can be written before any
// audit work, so a long run is never lost to a typo or a permission.
func (o *output) checkDir() error {
	if o.out == "" || strings.HasPrefix(o.out, "s3://") {
		return nil
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return badInput("--out %s: %v", o.out, err)
	}
	probe, err := os.CreateTemp(o.out, ".keyaudit-probe-*")
	if err != nil {
		return badInput("--out %s is not writable: %v", o.out, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// deliver writes the report where the flags say and returns where (""
// for standard output); an error means the report was not delivered
// (exit 3).
func (o *output) deliver(ctx context.Context, e *env, r *report.Report, defaultFormat string) (string, error) {
	switch {
	case strings.HasPrefix(o.out, "s3://"):
		where, err := o.sink.Write(ctx, r)
		if err != nil {
			return "", incomplete(err)
		}
		if o.note != nil {
			o.note("report written to " + where)
		}
		return where, nil
	case o.out != "":
		written, err := o.writeDir(r)
		if err != nil {
			return "", incomplete(err)
		}
		if o.note != nil {
			for _, path := range written {
				o.note("wrote " + path)
			}
		}
		return o.out, nil
	default:
		name := o.format
		if name == "" {
			name = defaultFormat
		}
		if name == "" {
			name = "json"
			if isTerminal(e.stdout) {
				name = "table"
			}
		}
		w, err := writerFor(name, e.color(), e.width())
		if err != nil {
			return "", usageErr(err)
		}
		if err := w.Write(e.stdout, r); err != nil {
			return "", incomplete(fmt.Errorf("write report: %w", err))
		}
	}
	return "", nil
}

// defaultWidth is the width the table fits when neither the terminal nor
// COLUMNS says: the classic terminal's.
const defaultWidth = 80

// width is the width the table fits: the terminal's on standard output,
// else COLUMNS, else defaultWidth.
func (e *env) width() int {
	if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(e.getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return defaultWidth
}

// verdict is the outcome a delivered report earns: incomplete when an
// account could not be audited, else findings when one reaches --fail-on.
func (o *output) verdict(r *report.Report) error {
	if !r.Complete() {
		return &exitError{code: exitIncomplete}
	}
	if o.fail != "" && r.Worst().Rank() >= o.fail.Rank() {
		return &exitError{code: exitFindings}
	}
	return nil
}

// answers is the outcome of whois and local beyond the report's own:
// input that is not a key ID is bad input, a key not answered leaves the
// answer incomplete. Each key's reason is in the report.
func answers(u pipeline.Unanswered) error {
	switch {
	case u.Invalid > 0:
		verb := "are"
		if u.Invalid == 1 {
			verb = "is"
		}
		return badInput("%d of the values given %s not an access key ID: see each key's error in the report", u.Invalid, verb)
	case u.Failed > 0:
		// Said on standard error too: with --format json a script may
		// read only the exit code and the log.
		verb := "were"
		if u.Failed == 1 {
			verb = "was"
		}
		return incomplete(fmt.Errorf("%d of the keys %s not answered: see each key's error in the report", u.Failed, verb))
	}
	return nil
}

// writerFor picks a writer; the table is coloured only when color says and
// fits width.
func writerFor(name string, color bool, width int) (report.Writer, error) {
	f, err := report.ParseFormat(name)
	if err != nil {
		return nil, err
	}
	if f == report.FormatTable {
		return report.TableWriter{Color: color, Width: width}, nil
	}
	return report.WriterFor(f)
}

// formats are what --out writes: every format, or just --format.
func (o *output) formats() []report.Format {
	if o.format == "" {
		return report.Formats
	}
	f, _ := report.ParseFormat(o.format)
	return []report.Format{f}
}

// checkS3 makes sure an --out s3:// bucket can be reached, with the
// credentials of profile (empty: the standard chain) from region, and
// learns its region, before any audit work; it keeps the sink for the
// delivery.
func (o *output) checkS3(e *env, profile, region string) error {
	if !strings.HasPrefix(o.out, "s3://") {
		return nil
	}
	bucket, prefix, _ := deliver.ParseS3URL(o.out)
	env, err := loadAWS(e.ctx, o.log, o.say, profile, region, e)
	if err != nil {
		return fmt.Errorf("--out %s: %w", o.out, err)
	}
	cfg := env.cfg
	region, err = deliver.BucketRegion(e.ctx, s3.NewFromConfig(cfg), bucket)
	if err != nil {
		return badInput("--out %s: %v", o.out, err)
	}
	if region != "" {
		cfg.Region = region
	}
	o.sink = &deliver.S3Sink{Client: s3.NewFromConfig(cfg), Bucket: bucket, Prefix: prefix, Formats: o.formats()}
	return nil
}

// writeDir writes one file per format (or just --format) into --out and
// returns their paths. Each file is written to a temporary name and
// renamed, so a failed run never leaves a partial file that looks complete.
func (o *output) writeDir(r *report.Report) ([]string, error) {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	var written []string
	for _, f := range o.formats() {
		w, err := report.WriterFor(f)
		if err != nil {
			return written, err
		}
		path := filepath.Join(o.out, f.FileName())
		if err := writeFileAtomic(path, func(out io.Writer) error { return w.Write(out, r) }); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// writeFileAtomic writes path through a temporary file. The file keeps the
// temporary file's mode, 0600 less the umask: reports name users and key
// IDs, so they are the owner's unless the owner shares them.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
