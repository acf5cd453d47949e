package audit

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

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
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	action := "the call"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		action = strings.ToLower(strings.ReplaceAll(oe.ServiceID, " ", "")) + ":" + oe.OperationName
	}
	var msg string
	switch ae.ErrorCode() {
	case "AccessDenied", "AccessDeniedException":
		msg = fmt.Sprintf("%s was denied (%s): grant %s to the role or user keyaudit runs as", action, ae.ErrorMessage(), action)
	case "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException":
		msg = fmt.Sprintf("AWS rejected the credentials for %s (%s): refresh them (aws sso login, aws-vault, a new session) and run again", action, ae.ErrorCode())
	case "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded":
		msg = fmt.Sprintf("%s was still throttled after retries: lower --concurrency or run again later", action)
	default:
		msg = fmt.Sprintf("%s failed: %s: %s", action, ae.ErrorCode(), ae.ErrorMessage())
	}
	return &explained{msg: msg, err: err}
}
