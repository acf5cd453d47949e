package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keyaudit/keyaudit/audit"

	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"golang.org/x/term"
)

// output holds the flags every command shares for delivering a report.
type output struct {
	format string
	out    string
	failOn string

	fail rules.Severity
}

func (o *output) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "", "output format: table, json, csv, html or markdown (default: table on a terminal, json otherwise)")
	fs.StringVar(&o.out, "out", "", "write the report files into this directory (or s3://bucket/prefix) instead of standard output")
	fs.StringVar(&o.failOn, "fail-on", "", "exit 1 when a finding is at or above this severity: critical, high, medium or low (default: never)")
}

func (o *output) validate() error {
	if strings.HasPrefix(o.out, "s3://") {
		if _, _, err := report.ParseS3URL(o.out); err != nil {
			return usageError{fmt.Errorf("--out: %w", err)}
		}
	}
	if o.format != "" {
		if _, err := report.ParseFormat(o.format); err != nil {
			return usageError{fmt.Errorf("--format: %w", err)}
		}
	}
	if o.failOn != "" {
		sev, err := rules.ParseSeverity(o.failOn)
		if err != nil {
			return usageError{fmt.Errorf("--fail-on: %w", err)}
		}
		o.fail = sev
	}
	return nil
}

// deliver writes the report where the flags say and returns the exit code
// it earns: 3 when an account could not be audited, else 1 when a finding
// reaches --fail-on, else 0.
func (o *output) deliver(ctx context.Context, r *report.Report, stdout, stderr io.Writer, defaultFormat string) (int, error) {
	if strings.HasPrefix(o.out, "s3://") {
		where, err := o.writeS3(ctx, r)
		if err != nil {
			return exitIncomplete, err
		}
		fmt.Fprintf(stderr, "report written to %s\n", where)
	} else if o.out != "" {
		if err := o.writeDir(r); err != nil {
			return exitIncomplete, err
		}
	} else {
		name := o.format
		if name == "" {
			name = defaultFormat
		}
		if name == "" {
			name = "json"
			if isTerminal(stdout) {
				name = "table"
			}
		}
		w, err := writerFor(name, stdout)
		if err != nil {
			return exitUsage, usageError{err}
		}
		if err := w.Write(stdout, r); err != nil {
			return exitIncomplete, fmt.Errorf("write report: %w", err)
		}
	}
	return exitCode(r, o.fail), nil
}

func exitCode(r *report.Report, failOn rules.Severity) int {
	if r.Summary.Accounts["error"]+r.Summary.Accounts["skipped"] > 0 {
		return exitIncomplete
	}
	if failOn != "" && r.Worst().Rank() >= failOn.Rank() {
		return exitFindings
	}
	return exitOK
}

// writerFor picks a writer; the table is colored only on a terminal.
func writerFor(name string, w io.Writer) (report.Writer, error) {
	f, err := report.ParseFormat(name)
	if err != nil {
		return nil, err
	}
	if f == report.FormatTable {
		return report.TableWriter{Color: isTerminal(w)}, nil
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

// s3Sink is the sink the Lambda uses, with the standard credential chain.
func (o *output) s3Sink(ctx context.Context) (*report.S3Sink, error) {
	bucket, prefix, _ := report.ParseS3URL(o.out)
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryer(audit.Retryer))
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration for --out %s: %w", o.out, err)
	}
	return &report.S3Sink{Client: s3.NewFromConfig(cfg), Bucket: bucket, Prefix: prefix}, nil
}

func (o *output) writeS3(ctx context.Context, r *report.Report) (string, error) {
	sink, err := o.s3Sink(ctx)
	if err != nil {
		return "", err
	}
	return sink.Write(ctx, r, o.formats())
}

// writeDir writes one file per format (or just --format) into --out. Each
// file is written to a temporary name and renamed, so a failed run never
// leaves a partial file that looks complete.
func (o *output) writeDir(r *report.Report) error {
	formats := o.formats()
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	for _, f := range formats {
		w, err := report.WriterFor(f)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(o.out, f.FileName()), func(out io.Writer) error { return w.Write(out, r) }); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
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

// isTerminal reports whether v (standard input, output or error) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
