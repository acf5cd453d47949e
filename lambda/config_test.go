package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const configYAML = "thresholds:\n  max_key_age_days: 60\nsuppressions:\n  - rule: key-rotation\n    principal: ci-deploy\n    reason: INC-7\n"

func TestLoadConfig(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	w := newWorld(t, func(w *awssim.World) {
		w.Management().Parameters = map[string]string{"/keyaudit/config": configYAML, "/keyaudit/broken": "thresholds:\n  max_key_age_days: 0\n"}
	})
	sim := awssim.NewServer(w)
	defer sim.Close()
	cfg, err := sim.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
	require.NoError(t, err, "simulator config")
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer fake.Close()
	c := s3Client(fake.URL)
	ctx := context.Background()
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cfg")})
	require.NoError(t, err, "create the config bucket")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cfg"), Key: aws.String("keyaudit.yaml"), Body: strings.NewReader(configYAML)})
	require.NoError(t, err, "store the config")
	s3cfg := cfg.Copy()
	s3cfg.BaseEndpoint = aws.String(fake.URL)

	for name, tt := range map[string]struct {
		cfg    aws.Config
		source string
	}{"ssm": {cfg, "ssm:/keyaudit/config"}, "s3": {s3cfg, "s3://cfg/keyaudit.yaml"}} {
		t.Run(name, func(t *testing.T) {
			got, err := pipeline.LoadConfig(ctx, tt.cfg, tt.source)
			require.NoError(t, err, "load the config from %s", name)
			assert.Equal(t, 60, got.Thresholds.MaxKeyAgeDays, "max_key_age_days from %s", name)
			assert.Len(t, got.Suppressions, 1, "suppressions from %s", name)
		})
	}
	for source, want := range map[string]string{
		"ssm:/keyaudit/broken":  "ssm:/keyaudit/broken:2: thresholds.max_key_age_days",
		"ssm:/keyaudit/missing": "read the config parameter /keyaudit/missing",
		"ftp://x":               "use s3://bucket/key or ssm:/parameter/name",
	} {
		_, err := pipeline.LoadConfig(ctx, cfg, source)
		if assert.Error(t, err, "config source %s", source) {
			assert.Contains(t, err.Error(), want, "error for config source %s", source)
		}
	}
}

func TestSettingsFromEnv(t *testing.T) {
	env := map[string]string{"KEYAUDIT_BUCKET": "b", "KEYAUDIT_ACCOUNTS": "111111111111, 222222222222", "KEYAUDIT_CONCURRENCY": "5"}
	s, err := settingsFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err, "settings from a valid environment")
	run := s.Run
	require.NoError(t, run.Validate(), "the run's settings from a valid environment")
	assert.False(t, run.Org, "listed accounts turn organization discovery off")
	assert.Len(t, run.Selection().Accounts, 2, "accounts")
	assert.Equal(t, 5, run.Concurrency, "concurrency")
	assert.Equal(t, "KeyAuditRole", run.Role.Name, "default role name")
	assert.True(t, run.Role.InCaller, "the function's own account is audited through the member role")
	assert.False(t, run.AllKeyIDs, "keys named only where something is said about them, by default")
	env["KEYAUDIT_ALL_KEY_IDS"] = "true"
	s, err = settingsFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err, "settings with KEYAUDIT_ALL_KEY_IDS")
	assert.True(t, s.Run.AllKeyIDs, "KEYAUDIT_ALL_KEY_IDS=true names every key")
	for k, v := range map[string]string{"KEYAUDIT_BUCKET": "", "KEYAUDIT_ACCOUNTS": "12", "KEYAUDIT_CONCURRENCY": "lots"} {
		bad := map[string]string{"KEYAUDIT_BUCKET": "b"}
		bad[k] = v
		_, err := settingsFromEnv(func(k string) string { return bad[k] })
		if assert.Error(t, err, "%s=%q", k, v) {
			assert.Contains(t, err.Error(), k, "the error for %s=%q names the variable", k, v)
		}
	}
}
