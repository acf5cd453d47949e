package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"golang.org/x/term"
)

// awsEnv is the AWS configuration a live command acts with.
type awsEnv struct {
	cfg   aws.Config
	close func()
}

// loadAWS loads the standard credential chain: environment, --profile,
// SSO, and profiles with role_arn/mfa_serial (prompting on the terminal
// for the MFA code). AWS_ENDPOINT_URL is honoured by the SDK itself.
// say hears what is being retried once that takes a while.
func loadAWS(ctx context.Context, log *slog.Logger, say func(string), profile, region string, e *env) (*awsEnv, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
			o.TokenProvider = mfaPrompt(e.stdin, e.stderr)
			if e.getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") != "true" {
				o.Client = withEndpoint(o.Client, e.getenv("AWS_ENDPOINT_URL"))
			}
		}),
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := pipeline.LoadAWS(ctx, log, say, opts...)
	if err != nil {
		var missing config.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			return nil, badInput("AWS profile %q not found in ~/.aws/config or ~/.aws/credentials", missing.Profile)
		}
		return nil, usageErr(fmt.Errorf("load AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		// IAM is global; its endpoint lives in us-east-1.
		cfg.Region = "us-east-1"
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		// When nothing else supplies credentials, the SDK's last resort is
		// the EC2 instance role, and its error speaks of IMDS to someone
		// at a laptop who simply has not signed in.
		if aws.IsCredentialsProvider(cfg.Credentials, (*ec2rolecreds.Provider)(nil)) {
			return nil, badInput("no AWS credentials found: sign in (aws sso login --profile NAME, then --profile NAME), export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run under aws-vault exec; or try keyaudit scan --demo")
		}
		// A role_arn profile's AssumeRole may fail on the network: that
		// is an unanswered question (exit 3), not a wrong configuration.
		return nil, dialErr(ctx, fmt.Errorf("load AWS credentials: %w", err))
	}
	return &awsEnv{cfg: cfg, close: func() {}}, nil
}

// withEndpoint gives the STS client of a role_arn profile the endpoint
// AWS_ENDPOINT_URL names: the SDK builds that client before it reads
// AWS_ENDPOINT_URL (there it honours only AWS_ENDPOINT_URL_STS), so the
// AssumeRole would go to AWS's own STS while every other call goes to url.
func withEndpoint(c stscreds.AssumeRoleAPIClient, url string) stscreds.AssumeRoleAPIClient {
	client, ok := c.(*sts.Client)
	if !ok || url == "" || client.Options().BaseEndpoint != nil {
		return c
	}
	return sts.New(client.Options(), func(o *sts.Options) { o.BaseEndpoint = aws.String(url) })
}

// mfaPrompt asks for the MFA code on standard error, and only on a
// terminal: a prompt nobody can answer would hang a scheduled run.
func mfaPrompt(stdin io.Reader, stderr io.Writer) func() (string, error) {
	return func() (string, error) {
		f, ok := stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return "", errors.New("the profile needs an MFA code and standard input is not a terminal: run keyaudit on a terminal, or under aws-vault exec")
		}
		fmt.Fprint(stderr, "MFA code: ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("read MFA code: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
}
