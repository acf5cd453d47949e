package inventory

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// IAM matches actions without regard to case, with "*" and "?".
func TestWildcard(t *testing.T) {
	for _, tt := range []struct {
		pattern, action string
		want            bool
	}{
		{"*", "iam:PutUserPolicy", true},
		{"IAM:put*", "iam:PutUserPolicy", true},
		{"iam:PUTUSERPOLICY", "iam:PutUserPolicy", true},
		{"iam:Put?serPolicy", "iam:PutUserPolicy", true},
		{"iam:Put?Policy", "iam:PutUserPolicy", false},
		{"s3:*", "iam:PutUserPolicy", false},
		{"iam:*Policy", "iam:PutUserPolicy", true},
		{"iam:Get*", "iam:PutUserPolicy", false},
		{"iam:PutUserPolicy", "iam:PutUserPolicyX", false},
	} {
		assert.Equal(t, tt.want, wildcard(tt.pattern, tt.action), "%q against %q", tt.pattern, tt.action)
	}
	assert.Equal(t, "", writeAction(grant{st: statement{Action: []string{"s3:getobject", "EC2:DESCRIBEINSTANCES"}}}, nil), "reads in any case")
	assert.Equal(t, "s3:PutObject", writeAction(grant{st: statement{Action: []string{"s3:GetObject", "s3:PutObject"}}}, nil), "a write")
	assert.Equal(t, "s3:Ge", writeAction(grant{st: statement{Action: []string{"s3:Ge"}}}, nil), "shorter than a read verb")
}
