package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrorClass says what kind of failure an AWS call met, so an entrypoint
// can give the hint that fits: fix the network, refresh the credentials,
// grant a permission, or wait.
type ErrorClass string

const (
	ClassOther       ErrorClass = "other"
	ClassNetwork     ErrorClass = "network"     // AWS could not be reached or did not answer
	ClassCredentials ErrorClass = "credentials" // none found, or AWS rejected them
	ClassPermission  ErrorClass = "permission"  // AWS knows the caller and denied the call
	ClassThrottled   ErrorClass = "throttled"   // still throttled after the retries
)

var (
	credentialCodes = map[string]bool{
		"InvalidClientTokenId": true, "UnrecognizedClientException": true, "SignatureDoesNotMatch": true,
		"IncompleteSignature": true, "MissingAuthenticationToken": true, "InvalidAccessKeyId": true,
		"ExpiredToken": true, "ExpiredTokenException": true, "AuthFailure": true,
	}
	permissionCodes = map[string]bool{
		"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true, "AuthorizationError": true,
	}
)

// CredentialsError is a failure to obtain credentials: no call reached AWS.
// The SDK reports it as plain text; WithCredentialErrors makes it a type.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "no usable AWS credentials: " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

type credentialErrors struct{ aws.CredentialsProvider }

func (p credentialErrors) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.CredentialsProvider.Retrieve(ctx)
	if err != nil && ctx.Err() == nil {
		return c, &CredentialsError{Err: err}
	}
	return c, err
}

// IsCredentialsProvider lets aws.IsCredentialsProvider see the wrapped
// provider, so an entrypoint can still tell which one failed.
func (p credentialErrors) IsCredentialsProvider(target aws.CredentialsProvider) bool {
	return aws.IsCredentialsProvider(p.CredentialsProvider, target)
}

// WithCredentialErrors wraps a configuration's credentials provider so that
// its failures are *CredentialsError, which Classify recognizes.
func WithCredentialErrors(p aws.CredentialsProvider) aws.CredentialsProvider {
	if p == nil {
		return nil
	}
	return credentialErrors{p}
}

// Classify names the class of an error from an AWS call, with errors.As
// and the API error code only.
func Classify(err error) ErrorClass {
	var ae smithy.APIError
	var send *smithyhttp.RequestSendError
	var signing *v4.SigningError
	var creds *CredentialsError
	switch {
	case err == nil:
		return ClassOther
	case errors.As(err, &ae):
		code := ae.ErrorCode()
		_, throttled := retry.DefaultThrottleErrorCodes[code]
		switch {
		case credentialCodes[code]:
			return ClassCredentials
		case permissionCodes[code]:
			return ClassPermission
		case throttled:
			return ClassThrottled
		}
		return ClassOther
	case errors.Is(err, ErrDenied):
		return ClassPermission
	case errors.As(err, &send):
		return ClassNetwork
	case errors.As(err, &creds), errors.As(err, &signing):
		// The request could not be signed: no credentials were found, or
		// their provider (SSO, a role, IMDS) failed.
		return ClassCredentials
	}
	return ClassOther
}

// explained is an AWS error reworded for the person who must act on it; it
// unwraps to the SDK's error so callers can still inspect it with errors.As.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// Explain words an AWS API error as one line saying what failed and what to
// do: the SDK's own text names request IDs and status codes, not the
// permission to grant.
func Explain(err error) error {
	action := "the call"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		action = strings.ToLower(strings.ReplaceAll(oe.ServiceID, " ", "")) + ":" + oe.OperationName
	}
	var ae smithy.APIError
	var send *smithyhttp.RequestSendError
	var msg string
	switch class := Classify(err); {
	case class == ClassNetwork && errors.As(err, &send):
		msg = fmt.Sprintf("%s could not reach AWS (%v): check the network, any proxy, and AWS_ENDPOINT_URL", action, send.Err)
	case !errors.As(err, &ae):
		return err
	case class == ClassPermission:
		msg = fmt.Sprintf("%s was denied (%s): grant %s to the role or user keyaudit runs as", action, ae.ErrorMessage(), action)
	case class == ClassCredentials:
		msg = fmt.Sprintf("AWS rejected the credentials for %s (%s): refresh them (aws sso login, aws-vault, a new session) and run again", action, ae.ErrorCode())
	case class == ClassThrottled:
		msg = fmt.Sprintf("%s was still throttled after the retries: AWS limits its request rate", action)
	default:
		msg = fmt.Sprintf("%s failed: %s: %s", action, ae.ErrorCode(), ae.ErrorMessage())
	}
	return &explained{msg: msg, err: err}
}
