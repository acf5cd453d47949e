package main

// The member role's external ID lives in a Secrets Manager secret
// (template.yaml, ExternalIdSecret) that the function reads at start, not
// in its environment, where anyone who may read the function's
// configuration would see it.

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// secretReader is what readExternalID needs of Secrets Manager.
type secretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// externalIDChars are the characters STS accepts in an external ID, of
// which it takes 2 to 1,224 (AssumeRole, ExternalId).
var externalIDChars = regexp.MustCompile(`^[\w+=,.@:/-]+$`)

// readExternalID reads the external ID held by the secret arn. The value
// never appears in an error: it is a shared secret of every member role.
func readExternalID(ctx context.Context, sm secretReader, arn string) (string, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read the member role's external ID from the secret %s (KEYAUDIT_EXTERNAL_ID_SECRET_ARN; the function's role needs secretsmanager:GetSecretValue on it): %w", arn, err)
	}
	id := strings.TrimSpace(aws.ToString(out.SecretString))
	if len(id) < 2 || len(id) > 1224 || !externalIDChars.MatchString(id) {
		return "", fmt.Errorf("the secret %s (KEYAUDIT_EXTERNAL_ID_SECRET_ARN) does not hold an external ID: 2 to 1,224 letters, digits and +=,.@:/- as the member role requires; redeploy with the ExternalId parameter", arn)
	}
	return id, nil
}
