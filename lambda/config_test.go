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
)

const configYAML = "thresholds:\n  max_key_age_days: 60\nsuppressions:\n  - rule: key-rotation\n    principal: ci-deploy\n    reason: INC-7\n"

func TestLoadRulesConfig(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	w := newWorld(t, func(w *awssim.World) {
		w.Management().Parameters = map[string]string{"/keyaudit/config": configYAML, "/keyaudit/broken": "thresholds:\n  max_key_age_days: 0\n"}
	})
	sim := awssim.NewServer(w)
	defer sim.Close()
	cfg, err := sim.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer fake.Close()
	c := s3Client(fake.URL)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cfg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cfg"), Key: aws.String("keyaudit.yaml"), Body: strings.NewReader(configYAML)}); err != nil {
		t.Fatal(err)
	}
	s3cfg := cfg.Copy()
	s3cfg.BaseEndpoint = aws.String(fake.URL)

	for name, tt := range map[string]struct {
		cfg    aws.Config
		source string
	}{"ssm": {cfg, "ssm:/keyaudit/config"}, "s3": {s3cfg, "s3://cfg/keyaudit.yaml"}} {
		t.Run(name, func(t *testing.T) {
			got, err := loadRulesConfig(ctx, tt.cfg, tt.source)
			if err != nil {
				t.Fatal(err)
			}
			if got.Thresholds.MaxKeyAgeDays != 60 || len(got.Suppressions) != 1 {
				t.Errorf("config = %+v", got)
			}
		})
	}
	for source, want := range map[string]string{
		"ssm:/keyaudit/broken":  "ssm:/keyaudit/broken:2: thresholds.max_key_age_days",
		"ssm:/keyaudit/missing": "read the config parameter /keyaudit/missing",
		"ftp://x":               "use s3://bucket/key or ssm:/parameter/name",
	} {
		if _, err := loadRulesConfig(ctx, cfg, source); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", source, err, want)
		}
	}
}

func TestSettingsFromEnv(t *testing.T) {
	env := map[string]string{"KEYAUDIT_BUCKET": "b", "KEYAUDIT_ACCOUNTS": "111111111111, 222222222222", "KEYAUDIT_CONCURRENCY": "5"}
	s, err := settingsFromEnv(func(k string) string { return env[k] })
	if err != nil || s.Org || len(s.Accounts) != 2 || s.Concurrency != 5 || s.Role.Name != "KeyAuditRole" || !s.Role.InCaller {
		t.Errorf("settings = %+v, %v", s, err)
	}
	for k, v := range map[string]string{"KEYAUDIT_BUCKET": "", "KEYAUDIT_ACCOUNTS": "12", "KEYAUDIT_CONCURRENCY": "lots"} {
		bad := map[string]string{"KEYAUDIT_BUCKET": "b"}
		bad[k] = v
		if _, err := settingsFromEnv(func(k string) string { return bad[k] }); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: err = %v, want one naming %s", k, v, err, k)
		}
	}
}
