package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The external ID is read through the real Secrets Manager client; a value
// that is not an external ID is refused without being echoed, and a
// missing secret says which one and what to grant.
func TestReadExternalID(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:keyaudit-external-id"
	pasted := "wJalrXUtnFEMI/K7MDENG/bPxRfiCY EXAMPLEKEY" // a secret key pasted by mistake
	tests := []struct {
		name, value, want, wantErr string
	}{
		{name: "as the template stores it", value: "b1946ac92492d2347c6235b4d2611184", want: "b1946ac92492d2347c6235b4d2611184"},
		{name: "every character STS allows", value: "a_Z9+=,.@:/-", want: "a_Z9+=,.@:/-"},
		{name: "a trailing newline from a file", value: "shared-id\n", want: "shared-id"},
		{name: "too short", value: "x", wantErr: "does not hold an external ID"},
		{name: "too long", value: strings.Repeat("a", 1225), wantErr: "does not hold an external ID"},
		{name: "not an external ID", value: pasted, wantErr: "does not hold an external ID"},
		{name: "no such secret", wantErr: "read the member role's external ID from the secret " + arn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
			require.NoError(t, err, "load the small organization")
			if tt.value != "" {
				w.Management().Secrets = map[string]string{arn: tt.value}
			}
			srv := awssim.NewServer(w)
			t.Cleanup(srv.Close)
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			cfg, err := srv.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
			require.NoError(t, err, "the simulator's config")

			got, err := readExternalID(context.Background(), secretsmanager.NewFromConfig(cfg), arn)
			if tt.wantErr != "" {
				require.Error(t, err, "%s: want an error", tt.name)
				assert.Contains(t, err.Error(), tt.wantErr, "%s: the error says what is wrong", tt.name)
				assert.Contains(t, err.Error(), arn, "%s: the error names the secret", tt.name)
				assert.NotContains(t, err.Error(), "EXAMPLEKEY", "%s: the value is never echoed", tt.name)
				return
			}
			require.NoError(t, err, tt.name)
			assert.Equal(t, tt.want, got, tt.name)
		})
	}
}

// The secret is read at the instance's first invocation and kept: a later
// invocation makes no call (here the simulator is gone by then). The
// environment may give the ID or the secret, not both.
func TestExternalIDReadOncePerInstance(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:keyaudit-external-id"
	env := map[string]string{"KEYAUDIT_BUCKET": "b", "KEYAUDIT_EXTERNAL_ID_SECRET_ARN": arn}
	s, err := settingsFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err, "settings with the secret")
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	require.NoError(t, err, "load the small organization")
	w.Management().Secrets = map[string]string{arn: "shared-id"}
	srv := awssim.NewServer(w)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := srv.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
	require.NoError(t, err, "the simulator's config")

	h := &handler{settings: s}
	got, err := h.readExternalID(context.Background(), cfg)
	require.NoError(t, err, "first invocation")
	assert.Equal(t, "shared-id", got, "first invocation: the secret's ID")
	srv.Close()
	got, err = h.readExternalID(context.Background(), cfg)
	require.NoError(t, err, "second invocation, the secret not read again")
	assert.Equal(t, "shared-id", got, "second invocation: the ID kept")

	env["KEYAUDIT_EXTERNAL_ID"] = "shared-id"
	_, err = settingsFromEnv(func(k string) string { return env[k] })
	if assert.Error(t, err, "both the ID and its secret") {
		assert.Contains(t, err.Error(), "KEYAUDIT_EXTERNAL_ID and KEYAUDIT_EXTERNAL_ID_SECRET_ARN are both set", "the error names both")
		assert.NotContains(t, err.Error(), "shared-id", "the value is never echoed")
	}
}
