package inventory

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTrailRegions(t *testing.T) {
	tests := []struct {
		name              string
		partitionOrRegion string
		lastUsed          string
		want              []string
	}{
		{"aws partition", "aws", "", []string{"us-east-1"}},
		{"aws, last used elsewhere", "aws", "eu-west-1", []string{"us-east-1", "eu-west-1"}},
		{"a regional endpoint", "eu-central-1", "", []string{"eu-central-1", "us-east-1"}},
		{"region and last use", "eu-central-1", "ap-south-1", []string{"eu-central-1", "us-east-1", "ap-south-1"}},
		{"home region given", "us-east-1", "us-east-1", []string{"us-east-1"}},
		{"China partition", "aws-cn", "", []string{"cn-north-1"}},
		{"China region", "cn-northwest-1", "cn-northwest-1", []string{"cn-northwest-1", "cn-north-1"}},
		{"GovCloud partition", "aws-us-gov", "us-gov-east-1", []string{"us-gov-west-1", "us-gov-east-1"}},
		{"GovCloud region", "us-gov-east-1", "", []string{"us-gov-east-1", "us-gov-west-1"}},
		{"no region known", "", "", []string{"us-east-1"}},
		{"a last use in another partition is not this key's", "cn-north-1", "us-east-1", []string{"cn-north-1"}},
		{"a last use that is not a region name never reaches a command", "aws", "us-east-1; rm -rf ~", []string{"us-east-1"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, TrailRegions(tt.partitionOrRegion, tt.lastUsed), "case %s", tt.name)
	}
}

func TestPartitions(t *testing.T) {
	for region, want := range map[string]string{"eu-west-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "": "aws"} {
		assert.Equal(t, want, Partition(region), "partition of %q", region)
	}
	for arn, want := range map[string]string{"arn:aws-cn:iam::123456789012:user/a": "aws-cn", "arn:aws-us-gov:iam::123456789012:root": "aws-us-gov",
		"arn:aws:iam::123456789012:user/a": "aws", "": "aws", "arn:bogus:iam::1:user/a": "aws"} {
		assert.Equal(t, want, ARNPartition(arn), "partition of %q", arn)
	}
}
