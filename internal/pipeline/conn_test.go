package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDialSelection(t *testing.T) {
	w := world(t, nil)
	tests := []struct {
		name string
		sel  pipeline.Selection
		want []string
	}{
		{"caller's own account", pipeline.Selection{}, []string{"111111111111"}},
		{"listed accounts", accounts("222222222222", "555555555555"), []string{"222222222222", "555555555555"}},
		{"organization less exclusions", pipeline.Selection{Org: true, Exclude: []string{"333333333333", "444444444444"}}, []string{"111111111111", "222222222222", "555555555555"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, conn := dial(t, w, tt.sel)
			targets, err := conn.List(context.Background())
			require.NoError(t, err, "list the targets of %s", tt.name)
			var got []string
			for _, tg := range targets {
				got = append(got, tg.AccountID)
			}
			assert.Equal(t, tt.want, got, "targets of %s", tt.name)
			assert.Equal(t, "111111111111", conn.Caller, "caller of %s", tt.name)
		})
	}
}

func TestDialNothingLeft(t *testing.T) {
	w := world(t, nil)
	srv := awssim.NewServer(w)
	defer srv.Close()
	cfg, err := srv.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
	require.NoError(t, err, "simulator config")
	_, err = pipeline.Dial(context.Background(), cfg, pipeline.Selection{Exclude: []string{"111111111111"}, Role: role})
	assert.ErrorIs(t, err, pipeline.ErrNoTargets, "excluding the only account")
}

func TestNamesHint(t *testing.T) {
	h := pipeline.Names{ExternalID: "--external-id", Concurrency: "--concurrency"}
	denied := fmt.Errorf("cannot assume role: %w", audit.ErrDenied)
	throttled := &smithy.OperationError{ServiceID: "IAM", OperationName: "ListAccessKeys", Err: &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}}
	other := &smithy.OperationError{ServiceID: "IAM", OperationName: "ListAccessKeys", Err: &iamtypes.NoSuchEntityException{}}
	assert.Contains(t, h.Hint(denied).Error(), "--external-id", "hint for a denied role")
	assert.ErrorIs(t, h.Hint(denied), audit.ErrDenied, "the hinted error still unwraps")
	assert.Contains(t, h.Hint(throttled).Error(), "--concurrency", "hint for throttling")
	assert.NotContains(t, audit.Explain(throttled).Error(), "--", "audit names no flag: the entrypoint's hint does")
	assert.Contains(t, h.Hint(audit.Explain(throttled)).Error(), "--concurrency", "hint for an explained throttling error")
	assert.Equal(t, other, h.Hint(other), "no hint for other errors")
	assert.Equal(t, denied, pipeline.Names{}.Hint(denied), "no names, no hint")
	var nf *iamtypes.NoSuchEntityException
	assert.True(t, errors.As(h.Hint(other), &nf), "other errors unchanged")
	_ = iam.ListAccessKeysInput{}
}

// Issue 22 item 7: an organization that listed no account was blamed on
// the exclusions, even with none given.
func TestDialEmptyOrganization(t *testing.T) {
	w := world(t, func(w *awssim.World) {
		for i := range w.Accounts {
			w.Accounts[i].State = "SUSPENDED"
		}
	})
	srv := awssim.NewServer(w)
	defer srv.Close()
	cfg, err := srv.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
	require.NoError(t, err, "simulator config")
	_, err = pipeline.Dial(context.Background(), cfg, pipeline.Selection{Org: true, Role: role})
	assert.ErrorIs(t, err, pipeline.ErrEmptyOrg, "an organization with no active account")
	assert.NotErrorIs(t, err, pipeline.ErrNoTargets, "no exclusion to blame")

	w = world(t, nil)
	srv2 := awssim.NewServer(w)
	defer srv2.Close()
	cfg, err = srv2.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
	require.NoError(t, err, "simulator config")
	_, err = pipeline.Dial(context.Background(), cfg, pipeline.Selection{Org: true, Role: role,
		Exclude: []string{"111111111111", "222222222222", "333333333333", "444444444444", "555555555555", "666666666666"}})
	assert.ErrorIs(t, err, pipeline.ErrNoTargets, "every account excluded: the exclusions are to blame")
}
