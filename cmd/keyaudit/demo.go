package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/pipeline"
)

// startDemo serves the simulated demo organization on a loopback port and
// returns credentials of its management account. The audit then runs
// through the same live code path, real SDK clients and all.
func startDemo(ctx context.Context, log *slog.Logger, say func(string)) (*awsEnv, error) {
	w, err := awssim.DemoWorld()
	if err != nil {
		return nil, fmt.Errorf("load the demo organization: %w", err)
	}
	// The simulated credential report is ready at once: the demo should
	// take seconds, not IAM's generation time.
	srv := awssim.NewServer(w, awssim.WithReportCalls(0))
	cfg, err := srv.AWSConfig(ctx, w.Management().ID, "us-east-1")
	if err != nil {
		srv.Close()
		return nil, err
	}
	cfg = pipeline.Configure(cfg, log)
	if say != nil {
		// Short enough for an 80-column terminal.
		say(fmt.Sprintf("DEMO: a simulated organization at %s; no AWS account is used", srv.URL))
	}
	return &awsEnv{cfg: cfg, close: srv.Close}, nil
}
