package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/rules"
)

// LoadConfig reads the rules' thresholds and suppressions from S3
// (s3://bucket/key) or SSM Parameter Store (ssm:/name), or returns the
// defaults.
func LoadConfig(ctx context.Context, cfg aws.Config, source string) (rules.Config, error) {
	var data []byte
	switch {
	case source == "":
		return rules.Defaults(), nil
	case strings.HasPrefix(source, "s3://"):
		bucket, key, err := deliver.ParseS3URL(source)
		if err != nil {
			return rules.Config{}, fmt.Errorf("KEYAUDIT_CONFIG: %w", err)
		}
		out, err := s3.NewFromConfig(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return rules.Config{}, fmt.Errorf("read the config %s: %w", source, err)
		}
		defer out.Body.Close()
		if data, err = io.ReadAll(out.Body); err != nil {
			return rules.Config{}, fmt.Errorf("read the config %s: %w", source, err)
		}
	case strings.HasPrefix(source, "ssm:"):
		name := strings.TrimPrefix(source, "ssm:")
		out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			return rules.Config{}, fmt.Errorf("read the config parameter %s: %w", name, audit.Explain(err))
		}
		data = []byte(aws.ToString(out.Parameter.Value))
	default:
		return rules.Config{}, fmt.Errorf("KEYAUDIT_CONFIG %q: use s3://bucket/key or ssm:/parameter/name", source)
	}
	return rules.ParseConfig(source, data)
}
